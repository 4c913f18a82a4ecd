"""Needs and results: list, read, create, update, delete, and their matches in the other direction."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Response

from matcher.access import Principal
from matcher.catalogue.service import AVAILABLE

from ..deps import OPTIONAL_AUTH, AnyUser, Broker, Id, OptionalPrincipal, ServiceDep
from ..schemas import (
    DuplicatesPublic,
    MatchesPublic,
    MergeReport,
    MergeRequest,
    Method,
    NeedCheck,
    NeedCreate,
    NeedCreated,
    NeedPublic,
    NeedUpdate,
    Page,
    ResearchTopic,
    ResultCreate,
    ResultCreated,
    ResultPublic,
    ResultUpdate,
)
from ..views import MatchDep, NeedList, ResultList

needs = APIRouter(prefix="/needs", tags=["needs"])
results = APIRouter(prefix="/results", tags=["results"])
OWNER_ROLE = {"needs": "firm", "results": "institution"}
WHAT = {"needs": "need", "results": "result"}


def _create(service, side: str, body, who: Principal) -> dict[str, Any]:
    if who.role not in (OWNER_ROLE[side], "admin"):
        raise HTTPException(403, f"only {OWNER_ROLE[side]} and admin keys may create {side}")
    data = body.model_dump(exclude_none=True, mode="json")
    org_id = data.pop("org_id", None)
    if org_id is not None and who.role != "admin":
        raise HTTPException(403, "only admins may post on behalf of another organisation")
    data["org"] = service.catalogue.get_org(org_id)["name"] if org_id else who.org_name
    if data.get("ref") and service.catalogue.find_by_ref(side, data["ref"]):
        raise HTTPException(409, f"a {WHAT[side]} with ref {data['ref']!r} exists already")
    catalogue = service.catalogue
    row = (catalogue.add_need if side == "needs" else catalogue.add_result)(data, actor=who.actor)
    return {**catalogue.view(side, row, who), "possible_duplicates": catalogue.duplicates(side, row["id"], viewer=who)}


def _duplicates(service, side: str, item_id: int, who: Principal | None, limit: int) -> dict[str, Any]:
    return {"items": service.catalogue.duplicates(side, item_id, limit=limit, viewer=who)}


def _update(service, side: str, item_id: int, body, who: Principal) -> dict[str, Any]:
    row = service.catalogue.get_listing(side, item_id)
    service.catalogue.require_owner(who, row, WHAT[side])
    changes = body.model_dump(exclude_unset=True, mode="json")
    if not changes:  # an empty PATCH changes nothing and returns the listing as it is
        return service.catalogue.view(side, row, who)
    return service.catalogue.view(side, service.catalogue.update_listing(side, item_id, changes,
                                                                         actor=who.actor), who)


def _matches(service, side: str, item_id: int, who: Principal | None, top_k: int, method: str | None,
             filters: dict[str, Any]) -> dict[str, Any]:
    row = service.catalogue.get_listing(side, item_id)
    # only counterparts still available: open needs, results not yet transferred or withdrawn
    filters = {**filters, "status": AVAILABLE["results" if side == "needs" else "needs"]}
    found = service.matching.match_listing(side, item_id, top_k=top_k, filters=filters, method=method, viewer=who)
    return {"query": {"side": side, "id": item_id, "title": row["title"]}, "method": method or service.settings.method,
            "items": [m.to_dict() for m in found]}


MatchQuery = Annotated[int, Query(ge=1, le=100)]
DuplicateLimit = Annotated[int, Query(ge=1, le=200)]


@needs.get("", response_model=Page[NeedPublic], openapi_extra=OPTIONAL_AUTH)
def list_needs(service: ServiceDep, who: OptionalPrincipal, params: NeedList) -> Any:
    """Needs, filtered and sorted; confidential needs appear redacted unless the caller may see them."""
    rows, total = service.catalogue.list_listings("needs", params.filters, params.q, params.sort, params.limit,
                                                  params.offset,
                                                  viewer=who)
    return {"items": rows, "total": total, "limit": params.limit,
            "offset": params.offset}


@needs.post("", response_model=NeedCreated, status_code=201)
def create_need(body: NeedCreate, service: ServiceDep, who: AnyUser) -> Any:
    """Post a need for the caller's organisation (firms; admins on behalf of any)."""
    return _create(service, "needs", body, who)


DRAFT_EXAMPLE = {"title": "提升产品质量", "description": "我司希望提升产品质量，寻求合作。",
                 "industry": "smart_equipment"}
Draft = Annotated[dict[str, Any], Body(description=(
    "A need as far as it is written (the fields of POST /needs, any of them; nothing is stored). Values that would "
    "be refused on posting are named in `invalid`, not refused here."), examples=[DRAFT_EXAMPLE])]


def _draft(body: dict[str, Any]) -> dict[str, Any]:
    """A posted draft without the keys that would make it read as a stored row (which is not validated)."""
    return {k: v for k, v in body.items() if k not in ("id", "created_at", "updated_at")}


@needs.post("/check", response_model=NeedCheck)
def check_need(body: Draft, service: ServiceDep, who: AnyUser,
               lang: Annotated[Literal["zh", "en"], Query(description="Language of the prompts.")] = "zh") -> Any:
    """How completely a draft need is specified (0–1) and what it lacks — target indicators with numbers, current
    state, constraints, wanted TRL, budget, deadline, cluster — each with a prompt and an example quoted from the
    nearest well-specified needs you may read; the suggested cluster (a classifier trained on the catalogue) and
    keywords. Nothing is stored."""
    return service.clarification.check_need(_draft(body), viewer=who, lang=lang)


@needs.post("/topic", response_model=ResearchTopic)
def draft_topic(body: Draft, service: ServiceDep, who: AnyUser) -> Any:
    """A research-topic draft (行业难题 → 科研课题) from a draft need: title, background, objectives, indicators,
    constraints and fitting teams (its best-matched results), filled from templates. Nothing is stored."""
    return service.topics.research_topic(draft=_draft(body))


@needs.get("/{need_id:id}/topic", response_model=ResearchTopic, openapi_extra=OPTIONAL_AUTH)
def need_topic(need_id: Id, service: ServiceDep, who: OptionalPrincipal) -> Any:
    """The research-topic draft of a stored need (a confidential one: its owner, brokers and admins only)."""
    return service.topics.research_topic(need_id=need_id, viewer=who if who is not None else False)


@needs.get("/{need_id:id}", response_model=NeedPublic, openapi_extra=OPTIONAL_AUTH)
def get_need(need_id: Id, service: ServiceDep, who: OptionalPrincipal) -> Any:
    return service.catalogue.get_listing("needs", need_id, viewer=who)


@needs.patch("/{need_id:id}", response_model=NeedPublic)
def update_need(need_id: Id, body: NeedUpdate, service: ServiceDep, who: AnyUser) -> Any:
    return _update(service, "needs", need_id, body, who)


@needs.delete("/{need_id:id}", status_code=204, response_class=Response)
def delete_need(need_id: Id, service: ServiceDep, who: AnyUser) -> Response:
    service.catalogue.require_owner(who, service.catalogue.get_listing("needs", need_id), "need")
    service.catalogue.delete_listing("needs", need_id, actor=who.actor)
    return Response(status_code=204)


@needs.get("/{need_id:id}/matches", response_model=MatchesPublic, openapi_extra=OPTIONAL_AUTH)
def need_matches(need_id: Id, service: ServiceDep, who: OptionalPrincipal, params: MatchDep,
                 top_k: MatchQuery = 10, method: Method | None = None) -> Any:
    """Research results ranked for a need, with score components and explanations."""
    return _matches(service, "needs", need_id, who, top_k, method, params.filters)


@needs.get("/{need_id:id}/duplicates", response_model=DuplicatesPublic, openapi_extra=OPTIONAL_AUTH)
def need_duplicates(need_id: Id, service: ServiceDep, who: OptionalPrincipal, limit: DuplicateLimit = 5) -> Any:
    """Needs that look like copies of this one (the same organisation's, or unattributed), closest first."""
    return _duplicates(service, "needs", need_id, who, limit)


@results.get("", response_model=Page[ResultPublic])
def list_results(service: ServiceDep, params: ResultList) -> Any:
    rows, total = service.catalogue.list_listings("results", params.filters, params.q, params.sort, params.limit,
                                                  params.offset, viewer=None)
    return {"items": rows, "total": total, "limit": params.limit,
            "offset": params.offset}


@results.post("", response_model=ResultCreated, status_code=201)
def create_result(body: ResultCreate, service: ServiceDep, who: AnyUser) -> Any:
    """List a result for the caller's organisation (institutions; admins on behalf of any)."""
    return _create(service, "results", body, who)


@results.get("/{result_id:id}", response_model=ResultPublic)
def get_result(result_id: Id, service: ServiceDep) -> Any:
    return service.catalogue.get_listing("results", result_id, viewer=None)


@results.patch("/{result_id:id}", response_model=ResultPublic)
def update_result(result_id: Id, body: ResultUpdate, service: ServiceDep, who: AnyUser) -> Any:
    return _update(service, "results", result_id, body, who)


@results.delete("/{result_id:id}", status_code=204, response_class=Response)
def delete_result(result_id: Id, service: ServiceDep, who: AnyUser) -> Response:
    service.catalogue.require_owner(who, service.catalogue.get_listing("results", result_id), "result")
    service.catalogue.delete_listing("results", result_id, actor=who.actor)
    return Response(status_code=204)


@results.get("/{result_id:id}/matches", response_model=MatchesPublic, openapi_extra=OPTIONAL_AUTH)
def result_matches(result_id: Id, service: ServiceDep, who: OptionalPrincipal, params: MatchDep,
                   top_k: MatchQuery = 10, method: Method | None = None) -> Any:
    """Open needs ranked for a result; confidential needs appear redacted to outsiders."""
    return _matches(service, "results", result_id, who, top_k, method, params.filters)


@results.get("/{result_id:id}/duplicates", response_model=DuplicatesPublic, openapi_extra=OPTIONAL_AUTH)
def result_duplicates(result_id: Id, service: ServiceDep, who: OptionalPrincipal, limit: DuplicateLimit = 5) -> Any:
    """Results that look like copies of this one (the same organisation's, or unattributed), closest first."""
    return _duplicates(service, "results", result_id, who, limit)


@needs.post("/{need_id:id}/merge", response_model=MergeReport)
def merge_need(need_id: Id, body: MergeRequest, service: ServiceDep, who: Broker) -> Any:
    """Fold a duplicate need into this one (brokers and admins): its candidates, decisions, pairings and
    applications move over, the duplicate is deleted; audited."""
    return service.catalogue.merge_listings("needs", need_id, body.duplicate_id, actor=who.actor)


@results.post("/{result_id:id}/merge", response_model=MergeReport)
def merge_result(result_id: Id, body: MergeRequest, service: ServiceDep, who: Broker) -> Any:
    """Fold a duplicate result into this one (brokers and admins); audited."""
    return service.catalogue.merge_listings("results", result_id, body.duplicate_id, actor=who.actor)
