"""The review queue: candidate pairs ranked for brokers, and their decisions (confirm opens a pairing).

Every change is written with an audit-log line saying who did what and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matcher.errors import Conflict, Invalid
from matcher.ingest.vocab import Vocab
from matcher.store import CANDIDATE_SORTS, Not, Store, now

DECISIONS = ("confirm", "reject")


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


class ReviewQueue:
    """The review queue: candidate pairs for brokers and their decisions, each audited."""

    def __init__(self, store: Store, vocab: Vocab) -> None:
        self.store = store
        self.vocab = vocab

    def list_candidates(self, status: str | None = "pending", industry: Sequence[str] | str | None = None,
                        district: Sequence[str] | str | None = None, min_score: float | None = None,
                        trl_min: int | None = None, trl_max: int | None = None, need_id: int | None = None,
                        result_id: int | None = None, run_id: int | None = None, limit: int = 50, offset: int = 0,
                        sort: str = "-score", min_confidence: float | None = None, round_id: int | None = None,
                        text: str | None = None, org_id: int | None = None) -> tuple[list[dict[str, Any]], int]:
        """A page of candidate pairs with need and result summaries, filtered and sorted, plus the total.

        `min_confidence` keeps pairs whose calibrated confidence reaches it (pairs without one are left out);
        `round_id` shows the pairs an assignment round proposed instead of every ranked candidate; `text` finds pairs
        by either title or either organisation's name, `org_id` those of one organisation (either side).
        """
        key = sort.lstrip("-")
        if key not in CANDIDATE_SORTS:
            raise Invalid(f"cannot sort candidates by {key!r}; use one of {', '.join(CANDIDATE_SORTS)}")
        rows, total = self.store.candidates(
            {"status": _as_list(status), "industry": _as_list(industry), "district": _as_list(district),
             "min_score": min_score, "min_confidence": min_confidence, "trl_min": trl_min, "trl_max": trl_max,
             "need_id": need_id, "result_id": result_id, "run_id": run_id, "round_id": round_id,
             "text": (text or "").strip()[:100] or None, "org_id": org_id},
            key, sort.startswith("-"), limit, offset)
        return [_split(r) for r in rows], int(total)

    def get_candidate(self, candidate_id: int) -> dict[str, Any]:
        """One candidate with the full need and result rows (and the organisations' names) and the decision that
        stands on it (reason, note, who, when; None while pending)."""
        cand = self.store.get("candidates", candidate_id)
        need = self.store.get("needs", cand["need_id"])
        result = self.store.get("results", cand["result_id"])
        for row in (need, result):
            row["org"] = self.store.get("organisations", row["org_id"])["name"] if row.get("org_id") else None
        return {**cand, "need": need, "result": result, "review": self.last_review(candidate_id)}

    def decide(self, candidate_id: int, decision: str, reason_code: str | None = None,
               note: str = "", actor: str = "system") -> dict[str, Any]:
        """Confirm or reject a pending candidate; a confirmation opens a pairing and marks the need matched."""
        if decision not in DECISIONS:
            raise Invalid(f"decision must be one of {', '.join(DECISIONS)}")
        if decision == "reject":
            if not reason_code:
                raise Invalid("a rejection needs a reason_code: " + ", ".join(self.vocab.reject_reasons.codes),
                              key="reason_required")
            if reason_code not in self.vocab.reject_reasons.names:
                raise Invalid(f"unknown reason_code {reason_code!r}; use one of "
                              + ", ".join(self.vocab.reject_reasons.codes))
        with self.store.transaction():
            cand = self.store.get("candidates", candidate_id)
            if cand["status"] != "pending":
                raise Conflict(f"candidate {candidate_id} was already {cand['status']}; take it back first (undo)",
                               key="already_decided", id=candidate_id, status=cand["status"])
            status = "confirmed" if decision == "confirm" else "rejected"
            self.store.update("candidates", candidate_id, {"status": status})
            self.store.insert("reviews", {"candidate_id": candidate_id, "decision": decision,
                                          "reason_code": reason_code, "note": note, "actor": actor,
                                          "created_at": now()})
            self.store.audit(actor, decision, "candidates", candidate_id,
                             {"reason_code": reason_code, "note": note, "need_id": cand["need_id"],
                              "result_id": cand["result_id"]})
            if decision == "confirm":
                pid = self.store.insert("pairings", {"candidate_id": candidate_id, "need_id": cand["need_id"],
                                                     "result_id": cand["result_id"], "stage": "confirmed",
                                                     "notes": note})
                self.store.audit(actor, "create", "pairings", pid, {"stage": "confirmed"})
                need = self.store.get("needs", cand["need_id"])
                if need["status"] == "open":
                    self.store.update("needs", need["id"], {"status": "matched"})
        return self.store.get("candidates", candidate_id)

    def undo(self, candidate_id: int, actor: str = "system") -> dict[str, Any]:
        """Take back a decision: the candidate is pending again (a review row "undo" keeps the history). A
        confirmation can be taken back only while its pairing has not moved on (its need is open again when no other
        pairing holds it); after that the pairing is dropped through the pipeline instead."""
        with self.store.transaction():
            cand = self.store.get("candidates", candidate_id)
            if cand["status"] == "pending":
                raise Conflict(f"candidate {candidate_id} is pending: there is no decision to take back",
                               key="nothing_to_undo", id=candidate_id)
            pairing = self.store.find("pairings", candidate_id=candidate_id)
            if cand["status"] == "confirmed" or pairing is not None:
                if pairing is not None and pairing["stage"] != "confirmed":
                    raise Conflict(f"the pairing of candidate {candidate_id} has moved on to {pairing['stage']!r}; "
                                   "drop it in the pipeline instead", key="undo_moved_on", id=candidate_id,
                                   stage=pairing["stage"])
                if pairing is not None:
                    self.store.delete("pairings", pairing["id"])
                    self.store.audit(actor, "delete", "pairings", pairing["id"], {"undo_of": candidate_id})
                need = self.store.get("needs", cand["need_id"])
                if need["status"] == "matched" and not self.store.count(
                        "pairings", {"need_id": need["id"], "stage": Not("dropped")}):
                    self.store.update("needs", need["id"], {"status": "open"})
            self.store.update("candidates", candidate_id, {"status": "pending"})
            self.store.insert("reviews", {"candidate_id": candidate_id, "decision": "undo", "reason_code": None,
                                          "note": f"took back {cand['status']}", "actor": actor,
                                          "created_at": now()})
            self.store.audit(actor, "undo", "candidates", candidate_id, {"was": cand["status"]})
        return self.store.get("candidates", candidate_id)

    def last_review(self, candidate_id: int) -> dict[str, Any] | None:
        """The decision that stands on a candidate (reason, note, who, when), or None while it is pending."""
        rows = self.store.rows("reviews", {"candidate_id": candidate_id}, order="-id", limit=1)
        return rows[0] if rows and rows[0]["decision"] != "undo" else None

    def bulk_reject(self, candidate_ids: Sequence[int], reason_code: str, note: str = "",
                    actor: str = "system") -> int:
        """Reject many pending candidates at once (all or none); returns how many were rejected."""
        return self.bulk_decide(candidate_ids, "reject", reason_code, note, actor)

    def bulk_decide(self, candidate_ids: Sequence[int], decision: str, reason_code: str | None = None,
                    note: str = "", actor: str = "system") -> int:
        """Confirm or reject many pending candidates at once (all or none; a rejection with its reason); returns how
        many were decided."""
        with self.store.transaction():
            for cid in candidate_ids:
                self.decide(cid, decision, reason_code, note, actor)
        return len(candidate_ids)

    def list_reviews(self, candidate_id: int | None = None, limit: int = 50, offset: int = 0
                     ) -> tuple[list[dict[str, Any]], int]:
        """Decisions taken, newest first (of one candidate when given), and their total."""
        where = {"candidate_id": candidate_id} if candidate_id else {}
        return self.store.rows("reviews", where, order="-id", limit=limit, offset=offset), \
            self.store.count("reviews", where)
