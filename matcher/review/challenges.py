"""揭榜挂帅 challenges: needs published with a goal, indicators and a reward, and the applications filed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matcher.errors import Conflict, Invalid

if TYPE_CHECKING:
    from matcher.access.policy import Principal
    from matcher.service import MatchService


def publish_challenge(service: MatchService, need_id: int, goal: str, indicators: str, deadline: str | None,
                      reward: float | None, actor: str = "system") -> dict[str, Any]:
    """Publish a need as a 揭榜挂帅 challenge with its goal, indicators, deadline and reward."""
    if not (goal or "").strip() or not (indicators or "").strip():
        raise Invalid("a challenge needs a goal and indicators", key="challenge_needs_goal")
    changes = {"is_challenge": True, "challenge_goal": goal, "challenge_indicators": indicators, "reward": reward}
    if deadline:
        changes["deadline"] = deadline
    row = service.update_listing("needs", need_id, changes, actor)
    service.store.audit(actor, "publish_challenge", "needs", need_id, {"reward": reward})
    return row


def list_challenges(service: MatchService, limit: int = 50, offset: int = 0, viewer: Principal | bool | None = True
                    ) -> tuple[list[dict[str, Any]], int]:
    """Needs published as challenges, newest first, as `viewer` may see them, each with its number of
    applications; a challenge published twice (a relisting, see matching/duplicates.py) is listed once, as its
    first copy, with `copies` naming the others."""
    rows, total = service.list_listings("needs", {"is_challenge": True}, sort="-id", limit=limit, offset=offset,
                                        viewer=viewer)
    copies = service.copies("needs", [row["id"] for row in rows])
    for row in rows:
        row["copies"] = sorted(c for c, first in copies.items() if first == row["id"])
    rows = [row for row in rows if row["id"] not in copies]
    total -= len(copies)
    counts = service.store.application_counts([row["id"] for row in rows])
    for row in rows:
        row["applications"] = counts.get(row["id"], 0)
    return rows, total


def apply_challenge(service: MatchService, need_id: int, org: str, team: str, proposal: str,
                    result_id: int | None = None, actor: str = "system") -> dict[str, Any]:
    """File a team's application (揭榜) against a challenge, optionally citing one of its results."""
    need = service.get_listing("needs", need_id)
    if not need.get("is_challenge"):
        raise Invalid(f"need {need_id} is not a published challenge", key="not_a_challenge")
    if not (org or "").strip() or not (proposal or "").strip():
        raise Invalid("an application needs the applying organisation and a proposal", key="application_needs_text")
    if result_id is not None:
        service.get_listing("results", result_id)
    with service.store.transaction():
        org_id = service.store.org_id(org.strip(), "institute")
        standing = [a for a in service.store.applications(need_id)
                    if a["org_id"] == org_id and a["status"] in ("submitted", "shortlisted")]
        if standing:  # one application per organisation and challenge (a declined one may be followed by another)
            raise Conflict(f"{org.strip()} has applied to this challenge already (application {standing[0]['id']}, "
                           f"{standing[0]['status']})", key="applied_already", status=standing[0]["status"])
        app_id = service.store.insert("challenge_applications", {
            "need_id": need_id, "org_id": org_id, "result_id": result_id, "team": team, "proposal": proposal,
            "status": "submitted"})
        service.store.audit(actor, "apply", "challenge_applications", app_id, {"need_id": need_id})
    return service.store.get("challenge_applications", app_id)


def list_applications(service: MatchService, need_id: int) -> list[dict[str, Any]]:
    """Applications filed against a challenge, with the organisations' names."""
    service.get_listing("needs", need_id)
    return service.store.applications(need_id)


def applications_of(service: MatchService, org_id: int) -> list[dict[str, Any]]:
    """An organisation's own applications, newest first, with each challenge's title and where it stands."""
    return service.store.applications_by_org(org_id)


APPLICATION_STATUSES = ("submitted", "shortlisted", "declined")


def review_application(service: MatchService, app_id: int, status: str, actor: str = "system") -> dict[str, Any]:
    """A broker's verdict on an application: shortlisted or declined (or back to submitted); audited."""
    if status not in APPLICATION_STATUSES:
        raise Invalid(f"status must be one of {', '.join(APPLICATION_STATUSES)}")
    with service.store.transaction():
        before = service.store.get("challenge_applications", app_id)
        service.store.update("challenge_applications", app_id, {"status": status})
        service.store.audit(actor, "review", "challenge_applications", app_id,
                            {"from": before["status"], "to": status, "need_id": before["need_id"]})
    return service.store.get("challenge_applications", app_id)
