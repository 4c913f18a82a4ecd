"""揭榜挂帅 challenges: needs published with a goal, indicators, deadline and reward, and teams' applications."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from ..deps import OPTIONAL_AUTH, AnyUser, Broker, Id, OptionalPrincipal, ServiceDep
from ..schemas import (
    ApplicationCreate,
    ApplicationPublic,
    ApplicationReview,
    ChallengeCreate,
    NeedPublic,
    OwnApplicationPublic,
    Page,
)

router = APIRouter(prefix="/challenges", tags=["challenges"])


@router.get("", response_model=Page[NeedPublic], openapi_extra=OPTIONAL_AUTH)
def list_challenges(service: ServiceDep, who: OptionalPrincipal, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Any:
    """Published challenges, newest first."""
    rows, total = service.challenges.list_challenges(limit, offset, viewer=who)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


@router.post("", response_model=NeedPublic, status_code=201)
def publish(body: ChallengeCreate, service: ServiceDep, who: AnyUser) -> Any:
    """Publish one of the caller's needs as a challenge (admins: any need)."""
    service.catalogue.require_owner(who, service.catalogue.get_listing("needs", body.need_id), "need")
    row = service.challenges.publish_challenge(body.need_id, body.goal, body.indicators,
                                               body.deadline, body.reward, who.actor)
    return service.catalogue.view("needs", row, who)


@router.get("/applications", response_model=list[OwnApplicationPublic])
def own_applications(service: ServiceDep, who: AnyUser) -> Any:
    """The caller's organisation's own applications, newest first, each with the challenge's title and where it
    stands (submitted, shortlisted, declined)."""
    return [{**a, "org": who.org_name} for a in service.challenges.applications_of(who.org_id)]


@router.get("/{need_id:id}/applications", response_model=list[ApplicationPublic])
def applications(need_id: Id, service: ServiceDep, who: AnyUser) -> Any:
    """Applications filed against a challenge: for its owner, brokers and admins."""
    need = service.catalogue.get_listing("needs", need_id)
    if not who.privileged:
        service.catalogue.require_owner(who, need, "challenge")
    return service.challenges.list_applications(need_id)


@router.post("/{need_id:id}/applications", response_model=ApplicationPublic, status_code=201)
def apply(need_id: Id, body: ApplicationCreate, service: ServiceDep, who: AnyUser) -> Any:
    """File an application (揭榜) for the caller's organisation, optionally citing one of its results."""
    if who.role not in ("institution", "firm", "admin"):
        raise HTTPException(403, "brokers do not apply to challenges")
    if body.result_id is not None:
        service.catalogue.require_owner(who, service.catalogue.get_listing("results", body.result_id), "result")
    app = service.challenges.apply_challenge(need_id, who.org_name, body.team, body.proposal, body.result_id,
                                             who.actor)
    return {**app, "org": who.org_name}


@router.post("/{need_id:id}/applications/{app_id:id}/review", response_model=ApplicationPublic)
def review_application(need_id: Id, app_id: Id, body: ApplicationReview, service: ServiceDep, who: Broker) -> Any:
    """Shortlist or decline an application (brokers and admins); audited."""
    apps = {a["id"]: a for a in service.challenges.list_applications(need_id)}
    if app_id not in apps:
        raise HTTPException(404, f"challenge {need_id} has no application {app_id}")
    return {**service.challenges.review_application(app_id, body.status, who.actor), "org": apps[app_id]["org"]}
