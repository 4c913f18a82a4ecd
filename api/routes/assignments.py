"""Assignment rounds (pairs for all open needs at once, under capacity and conflict limits) and the organisation
pairs marked as conflicted; brokers and admins only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ..deps import Broker, Id, ServiceDep
from ..schemas import AssignmentCreate, AssignmentRound, ConflictCreate, ConflictPublic, Page

assignments = APIRouter(prefix="/assignments", tags=["assignment"])
conflicts = APIRouter(prefix="/conflicts", tags=["assignment"])


@assignments.post("", response_model=AssignmentRound, status_code=201)
def assign(body: AssignmentCreate, service: ServiceDep, who: Broker) -> Any:
    """Propose pairs for every open need at once, maximising total confidence (solved exactly as a min-cost flow):
    each need at most per_need (at least one where the limits allow), each result and each organisation at most
    capacity times, never within one organisation, never a pair a broker rejected, never between conflicted
    organisations. The pairs join the review queue (`GET /candidates?round_id=`); the figures compare the round
    with greedy top-k per need on the same pairs."""
    return service.assignments.assign(body.per_need, body.capacity, body.min_confidence, body.org_capacity,
                                      actor=who.actor)


@assignments.get("", response_model=Page[AssignmentRound])
def list_rounds(service: ServiceDep, who: Broker, limit: Annotated[int, Query(ge=1, le=200)] = 20,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Any:
    """Assignment rounds, newest first (pairs in GET /assignments/{id})."""
    rows, total = service.assignments.list_rounds(limit, offset)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


@assignments.get("/{round_id:id}", response_model=AssignmentRound)
def get_round(round_id: Id, service: ServiceDep, who: Broker) -> Any:
    return service.assignments.get_round(round_id)


@conflicts.post("", response_model=ConflictPublic, status_code=201)
def add_conflict(body: ConflictCreate, service: ServiceDep, who: Broker) -> Any:
    """Mark two organisations as conflicted: no assignment round proposes a pair between them."""
    return service.assignments.add_conflict(body.org_a, body.org_b, body.reason, actor=who.actor)


@conflicts.get("", response_model=list[ConflictPublic])
def list_conflicts(service: ServiceDep, who: Broker) -> Any:
    return service.assignments.list_conflicts()


@conflicts.delete("/{conflict_id:id}", status_code=204)
def remove_conflict(conflict_id: Id, service: ServiceDep, who: Broker) -> Response:
    service.assignments.remove_conflict(conflict_id, actor=who.actor)
    return Response(status_code=204)
