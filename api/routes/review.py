"""Broker review: candidate pairs, decisions, reviews and the pairing pipeline."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ..deps import MAX_ID, Broker, Id, ServiceDep
from ..schemas import (
    BulkConfirm,
    BulkReject,
    CandidatePublic,
    Decision,
    District,
    Industry,
    Page,
    PairingPlan,
    PairingPublic,
    ReviewPublic,
    Stage,
    StageMove,
)

candidates = APIRouter(prefix="/candidates", tags=["review"])
reviews = APIRouter(prefix="/reviews", tags=["review"])
pairings = APIRouter(prefix="/pairings", tags=["review"])
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@candidates.get("", response_model=Page[CandidatePublic])
def list_candidates(service: ServiceDep, who: Broker,
                    status: Annotated[list[Literal["pending", "confirmed", "rejected"]] | None, Query()] = None,
                    industry: Annotated[list[Industry] | None, Query()] = None,
                    district: Annotated[list[District] | None, Query()] = None,
                    min_score: Annotated[float | None, Query(ge=0, le=100)] = None,
                    min_confidence: Annotated[float | None, Query(ge=0, le=1, description=(
                        "Only pairs whose calibrated confidence (0–1) reaches this."))] = None,
                    trl_min: Annotated[int | None, Query(ge=1, le=9)] = None,
                    trl_max: Annotated[int | None, Query(ge=1, le=9)] = None,
                    need_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                    result_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                    run_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                    round_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description=(
                        "Only the pairs this assignment round proposed (POST /assignments)."))] = None,
                    q: Annotated[str | None, Query(max_length=100, description=(
                        "Text found in either title or either organisation's name."))] = None,
                    org_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description=(
                        "Only pairs where this organisation is on either side."))] = None,
                    sort: Annotated[str, Query(pattern=r"^-?(score|confidence|rank|created_at|id)$")] = "-score",
                    limit: Limit = 50, offset: Offset = 0) -> Any:
    """The review queue (pending candidates by default), ranked by score."""
    rows, total = service.queue.list_candidates(
        status or ["pending"], industry, district, min_score, trl_min, trl_max, need_id, result_id, run_id, limit,
        offset, sort, min_confidence, round_id, q, org_id)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


@candidates.get("/{candidate_id:id}", response_model=CandidatePublic)
def get_candidate(candidate_id: Id, service: ServiceDep, who: Broker) -> Any:
    return service.queue.get_candidate(candidate_id)


@candidates.post("/{candidate_id:id}/decision", response_model=CandidatePublic)
def decide(candidate_id: Id, body: Decision, service: ServiceDep, who: Broker) -> Any:
    """Confirm (opens a pairing) or reject (with a reason code) a pending candidate."""
    service.queue.decide(candidate_id, body.decision, getattr(body, "reason_code", None), body.note,
                         actor=who.actor)
    return service.queue.get_candidate(candidate_id)


@candidates.post("/{candidate_id:id}/undo", response_model=CandidatePublic)
def undo(candidate_id: Id, service: ServiceDep, who: Broker) -> Any:
    """Take back a decision: the candidate is pending again; a confirmation only while its pairing has not moved
    on (409 otherwise)."""
    service.queue.undo(candidate_id, actor=who.actor)
    return service.queue.get_candidate(candidate_id)


@candidates.post("/bulk-reject", response_model=dict[str, int])
def bulk_reject(body: BulkReject, service: ServiceDep, who: Broker) -> Any:
    """Reject many pending candidates at once; if any cannot be rejected, none is."""
    return {"rejected": service.queue.bulk_reject(body.candidate_ids, body.reason_code, body.note, who.actor)}


@candidates.post("/bulk-confirm", response_model=dict[str, int])
def bulk_confirm(body: BulkConfirm, service: ServiceDep, who: Broker) -> Any:
    """Confirm many pending candidates at once (each opens a pairing); if any cannot be confirmed, none is."""
    return {"confirmed": service.queue.bulk_decide(body.candidate_ids, "confirm", None, body.note, who.actor)}


@reviews.get("", response_model=Page[ReviewPublic])
def list_reviews(service: ServiceDep, who: Broker, candidate_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                 limit: Limit = 50, offset: Offset = 0) -> Any:
    """Decisions taken, newest first."""
    rows, total = service.queue.list_reviews(candidate_id, limit, offset)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


@pairings.get("", response_model=Page[PairingPublic])
def list_pairings(service: ServiceDep, who: Broker, stage: Annotated[list[Stage] | None, Query()] = None,
                  limit: Limit = 50, offset: Offset = 0) -> Any:
    """Confirmed pairs on their way to a contract."""
    rows, total = service.pipeline.list_pairings(stage, limit, offset)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


@pairings.get("/{pairing_id:id}", response_model=PairingPublic)
def get_pairing(pairing_id: Id, service: ServiceDep, who: Broker) -> Any:
    return service.pipeline.get_pairing(pairing_id)


@pairings.get("/due", response_model=list[PairingPublic])
def due(service: ServiceDep, who: Broker) -> Any:
    """Open pairings whose next action is due today (Beijing time) or overdue, earliest first."""
    return service.pipeline.due_pairings()


@pairings.post("/{pairing_id:id}/plan", response_model=PairingPublic)
def plan(pairing_id: Id, body: PairingPlan, service: ServiceDep, who: Broker) -> Any:
    """Set a pairing's next action and its date; audited."""
    when = body.next_action_at.isoformat() if body.next_action_at else None
    return service.pipeline.plan_pairing(pairing_id, body.next_action, when, who.actor)


@pairings.post("/{pairing_id:id}/stage", response_model=PairingPublic)
def move_pairing(pairing_id: Id, body: StageMove, service: ServiceDep, who: Broker) -> Any:
    """Move a pairing on: confirmed → contacted → negotiating → contract_signed (with value) → closed, or dropped."""
    return service.pipeline.move_pairing(pairing_id, body.stage, who.actor, body.note, body.contract_value)
