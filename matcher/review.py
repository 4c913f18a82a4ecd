"""Broker review: candidate pairs, decisions, the pairing pipeline and 揭榜挂帅 challenges.

Every change is written with an audit-log line saying who did what and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import Conflict, Invalid
from .store import CANDIDATE_SORTS, now

if TYPE_CHECKING:
    from .service import MatchService

DECISIONS = ("confirm", "reject")
# pipeline stages in order; any open stage may also move to "dropped"
STAGE_ORDER = ("confirmed", "contacted", "negotiating", "contract_signed", "closed")
FINAL_STAGES = ("closed", "dropped")
def _split(row: dict[str, Any]) -> dict[str, Any]:
    """A joined candidate row with its need and result summaries nested."""
    need = {"id": row["need_id"], "title": row.pop("need_title"), "industry": row.pop("need_industry"),
            "district": row.pop("need_district"), "confidentiality": row.pop("need_confidentiality"),
            "wanted_trl_min": row.pop("wanted_trl_min"), "wanted_trl_max": row.pop("wanted_trl_max"),
            "org_id": row.pop("need_org_id"), "org": row.pop("need_org")}
    result = {"id": row["result_id"], "title": row.pop("result_title"), "industry": row.pop("result_industry"),
              "district": row.pop("result_district"), "trl": row.pop("result_trl"),
              "org_id": row.pop("result_org_id"), "org": row.pop("result_org")}
    return {**row, "need": need, "result": result}


def _as_list(values: Sequence[str] | str | None) -> list[str]:
    return [values] if isinstance(values, str) else list(values or [])


def list_candidates(service: MatchService, status: str | None = "pending", industry: Sequence[str] | str | None = None,
                    district: Sequence[str] | str | None = None, min_score: float | None = None,
                    trl_min: int | None = None, trl_max: int | None = None, need_id: int | None = None,
                    result_id: int | None = None, run_id: int | None = None, limit: int = 50, offset: int = 0,
                    sort: str = "-score", min_confidence: float | None = None) -> tuple[list[dict[str, Any]], int]:
    """A page of candidate pairs with need and result summaries, filtered and sorted, plus the total.

    `min_confidence` keeps pairs whose calibrated confidence reaches it (pairs without one are left out).
    """
    key = sort.lstrip("-")
    if key not in CANDIDATE_SORTS:
        raise Invalid(f"cannot sort candidates by {key!r}; use one of {', '.join(CANDIDATE_SORTS)}")
    rows, total = service.store.candidates(
        {"status": _as_list(status), "industry": _as_list(industry), "district": _as_list(district),
         "min_score": min_score, "min_confidence": min_confidence, "trl_min": trl_min, "trl_max": trl_max,
         "need_id": need_id, "result_id": result_id, "run_id": run_id},
        key, sort.startswith("-"), limit, offset)
    return [_split(r) for r in rows], int(total)


def get_candidate(service: MatchService, candidate_id: int) -> dict[str, Any]:
    """One candidate with the full need and result rows (and the organisations' names)."""
    cand = service.store.get("candidates", candidate_id)
    need = service.store.get("needs", cand["need_id"])
    result = service.store.get("results", cand["result_id"])
    for row in (need, result):
        row["org"] = service.store.get("organisations", row["org_id"])["name"] if row.get("org_id") else None
    return {**cand, "need": need, "result": result}


def decide(service: MatchService, candidate_id: int, decision: str, reason_code: str | None = None,
           note: str = "", actor: str = "system") -> dict[str, Any]:
    """Confirm or reject a pending candidate; a confirmation opens a pairing and marks the need matched."""
    if decision not in DECISIONS:
        raise Invalid(f"decision must be one of {', '.join(DECISIONS)}")
    if decision == "reject":
        if not reason_code:
            raise Invalid("a rejection needs a reason_code: " + ", ".join(service.vocab.reject_reasons.codes))
        if reason_code not in service.vocab.reject_reasons.names:
            raise Invalid(f"unknown reason_code {reason_code!r}; use one of "
                             + ", ".join(service.vocab.reject_reasons.codes))
    with service.store.transaction():
        cand = service.store.get("candidates", candidate_id)
        if cand["status"] != "pending":
            raise Conflict(f"candidate {candidate_id} was already {cand['status']}; decisions are final")
        status = "confirmed" if decision == "confirm" else "rejected"
        service.store.update("candidates", candidate_id, {"status": status})
        service.store.insert("reviews", {"candidate_id": candidate_id, "decision": decision,
                                         "reason_code": reason_code, "note": note, "actor": actor,
                                         "created_at": now()})
        service.store.audit(actor, decision, "candidates", candidate_id,
                            {"reason_code": reason_code, "note": note, "need_id": cand["need_id"],
                             "result_id": cand["result_id"]})
        if decision == "confirm":
            pid = service.store.insert("pairings", {"candidate_id": candidate_id, "need_id": cand["need_id"],
                                                    "result_id": cand["result_id"], "stage": "confirmed",
                                                    "notes": note})
            service.store.audit(actor, "create", "pairings", pid, {"stage": "confirmed"})
            need = service.store.get("needs", cand["need_id"])
            if need["status"] == "open":
                service.store.update("needs", need["id"], {"status": "matched"})
    return service.store.get("candidates", candidate_id)


def bulk_reject(service: MatchService, candidate_ids: Sequence[int], reason_code: str, note: str = "",
                actor: str = "system") -> int:
    """Reject many pending candidates at once (all or none); returns how many were rejected."""
    with service.store.transaction():
        for cid in candidate_ids:
            decide(service, cid, "reject", reason_code, note, actor)
    return len(candidate_ids)


def list_reviews(service: MatchService, candidate_id: int | None = None, limit: int = 50, offset: int = 0
                 ) -> tuple[list[dict[str, Any]], int]:
    """Decisions taken, newest first (of one candidate when given), and their total."""
    where, params = ("candidate_id = ?", [candidate_id]) if candidate_id else ("", [])
    return (service.store.rows("reviews", where, params, "id desc", limit, offset),
            service.store.count("reviews", where, params))


def list_pairings(service: MatchService, stage: Sequence[str] | str | None = None, limit: int = 50,
                  offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Pairings (confirmed pairs on their way to a contract), newest change first."""
    stages = [stage] if isinstance(stage, str) else list(stage or [])
    return service.store.pairings(stages, limit, offset)


def get_pairing(service: MatchService, pairing_id: int) -> dict[str, Any]:
    """One pairing with titles and its audited history of stage moves."""
    row = service.store.pairing(pairing_id)
    row["history"] = service.store.rows("audit_log", "entity = ? and entity_id = ?", ["pairings", pairing_id])
    return row


def next_stages(stage: str) -> list[str]:
    """The stages a pairing may move to from `stage`."""
    if stage in FINAL_STAGES:
        return []
    i = STAGE_ORDER.index(stage)
    return [*STAGE_ORDER[i + 1:i + 2], "dropped"]


def move_pairing(service: MatchService, pairing_id: int, stage: str, actor: str = "system", note: str = "",
                 contract_value: float | None = None) -> dict[str, Any]:
    """Move a pairing one stage on (or drop it); a signed contract needs its value in 万元."""
    if stage not in service.vocab.pairing_stages.names:
        raise Invalid(f"unknown stage {stage!r}; use one of {', '.join(service.vocab.pairing_stages.codes)}")
    with service.store.transaction():
        pairing = service.store.get("pairings", pairing_id)
        allowed = next_stages(pairing["stage"])
        if stage not in allowed:
            raise Conflict(f"a pairing at stage {pairing['stage']!r} can move to "
                             + (", ".join(allowed) if allowed else "no other stage (it is final)"))
        changes: dict[str, Any] = {"stage": stage}
        if stage == "contract_signed":
            if contract_value is None or contract_value <= 0:
                raise Invalid("contract_signed needs contract_value > 0 (万元)")
            changes.update(contract_value=float(contract_value), signed_at=now())
        if note:
            changes["notes"] = ((pairing.get("notes") or "") + "\n" + note).strip()
        service.store.update("pairings", pairing_id, changes)
        service.store.audit(actor, "move", "pairings", pairing_id,
                            {"from": pairing["stage"], "to": stage, "note": note, "contract_value": contract_value})
        if stage in ("contract_signed", "closed"):
            service.store.update("needs", pairing["need_id"], {"status": "solved"})
    return get_pairing(service, pairing_id)


# -- 揭榜挂帅 challenges ------------------------------------------------------------------------
def publish_challenge(service: MatchService, need_id: int, goal: str, indicators: str, deadline: str | None,
                      reward: float | None, actor: str = "system") -> dict[str, Any]:
    """Publish a need as a 揭榜挂帅 challenge with its goal, indicators, deadline and reward."""
    if not (goal or "").strip() or not (indicators or "").strip():
        raise Invalid("a challenge needs a goal and indicators")
    changes = {"is_challenge": True, "challenge_goal": goal, "challenge_indicators": indicators, "reward": reward}
    if deadline:
        changes["deadline"] = deadline
    row = service.update_listing("needs", need_id, changes, actor)
    service.store.audit(actor, "publish_challenge", "needs", need_id, {"reward": reward})
    return row


def list_challenges(service: MatchService, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Needs published as challenges, newest first, each with its number of applications."""
    rows, total = service.list_listings("needs", {"is_challenge": True}, sort="-id", limit=limit, offset=offset)
    counts = service.store.application_counts([row["id"] for row in rows])
    for row in rows:
        row["applications"] = counts.get(row["id"], 0)
    return rows, total


def apply_challenge(service: MatchService, need_id: int, org: str, team: str, proposal: str,
                    result_id: int | None = None, actor: str = "system") -> dict[str, Any]:
    """File a team's application (揭榜) against a challenge, optionally citing one of its results."""
    need = service.get_listing("needs", need_id)
    if not need.get("is_challenge"):
        raise Invalid(f"need {need_id} is not a published challenge")
    if not (org or "").strip() or not (proposal or "").strip():
        raise Invalid("an application needs the applying organisation and a proposal")
    if result_id is not None:
        service.get_listing("results", result_id)
    with service.store.transaction():
        org_id = service.store.org_id(org.strip(), "institute")
        app_id = service.store.insert("challenge_applications", {
            "need_id": need_id, "org_id": org_id, "result_id": result_id, "team": team, "proposal": proposal,
            "status": "submitted"})
        service.store.audit(actor, "apply", "challenge_applications", app_id, {"need_id": need_id})
    return service.store.get("challenge_applications", app_id)


def list_applications(service: MatchService, need_id: int) -> list[dict[str, Any]]:
    """Applications filed against a challenge, with the organisations' names."""
    service.get_listing("needs", need_id)
    return service.store.applications(need_id)
