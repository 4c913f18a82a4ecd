"""Assignment rounds: proposals for all open needs at once, under capacity and conflict limits (see
matching/assignment.py for the solver), stored as a round whose pairs the review queue can show; and the
organisation pairs brokers mark as conflicted, never proposed to each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from matcher.catalogue.service import Catalogue
from matcher.errors import Conflict, Invalid, NotFound
from matcher.matching import assignment
from matcher.matching.service import Matching
from matcher.store import AVAILABLE, Store, now

if TYPE_CHECKING:
    from matcher.progress import Progress

POOL_MIN = 20  # results ranked per need before the limits: deep enough for long-tail results to get a turn
POOL_PER_NEED = 4  # … or this many times `per_need`, whichever is more


class Assignments:
    """Assignment rounds over the ranked pairs, under capacities and conflicts of interest."""

    def __init__(self, store: Store, catalogue: Catalogue, matching: Matching) -> None:
        self.store = store
        self.catalogue = catalogue
        self.matching = matching

    def _org_id(self, org: int | str) -> int:
        """An organisation's id from its id or exact name (NotFound when unknown)."""
        if isinstance(org, int) or (isinstance(org, str) and org.isdigit()):
            return int(self.store.get("organisations", int(org))["id"])
        row = self.store.find("organisations", name=str(org).strip())
        if row is None:
            raise NotFound(f"no organisation named {org!r}")
        return int(row["id"])

    def add_conflict(self, org_a: int | str, org_b: int | str, reason: str = "",
                     actor: str = "system") -> dict[str, Any]:
        """Mark two organisations as conflicted (e.g. one owns the other, or a dispute): no round proposes a pair
        between them, either way round. Conflict (409) when already marked."""
        a, b = sorted((self._org_id(org_a), self._org_id(org_b)))
        if a == b:
            raise Invalid("an organisation cannot be in conflict with itself (pairs within one organisation are never "
                          "proposed anyway)", key="conflict_self")
        with self.store.transaction():
            cid = self.store.insert_new("conflicts", {"org_a": a, "org_b": b, "reason": reason.strip(),
                                                      "actor": actor, "created_at": now()}, ("org_a", "org_b"))
            if cid is None:
                raise Conflict("these two organisations are already marked as conflicted", key="conflict_exists")
            self.store.audit(actor, "add_conflict", "conflicts", cid, {"org_a": a, "org_b": b, "reason": reason})
        return self.get_conflict(cid)

    def get_conflict(self, conflict_id: int) -> dict[str, Any]:
        """One conflict with both organisations' names."""
        row = self.store.get("conflicts", conflict_id)
        names = self.store.get_many("organisations", [row["org_a"], row["org_b"]])
        return {**row, "org_a_name": names[row["org_a"]]["name"], "org_b_name": names[row["org_b"]]["name"]}

    def list_conflicts(self) -> list[dict[str, Any]]:
        """Every marked conflict, oldest first, with the organisations' names."""
        return [self.get_conflict(int(r["id"])) for r in self.store.rows("conflicts")]

    def remove_conflict(self, conflict_id: int, actor: str = "system") -> None:
        """Unmark a conflict (later rounds may propose between the two again)."""
        row = self.store.get("conflicts", conflict_id)
        with self.store.transaction():
            self.store.delete("conflicts", conflict_id)
            self.store.audit(actor, "remove_conflict", "conflicts", conflict_id,
                             {"org_a": row["org_a"], "org_b": row["org_b"]})

    def eligible_pairs(self, per_need: int, min_confidence: float, pool: int | None = None,
                       progress: Progress | None = None) -> tuple[list[assignment.Pair], dict[str, int]]:
        """Every open need's ranked results that may be proposed: confidence at least `min_confidence`, not within one
        organisation, not rejected by a broker, not between conflicted organisations, and one copy of a listing
        posted twice. Also the counts of what was left out and why."""
        store = self.store
        pool = pool or max(POOL_MIN, POOL_PER_NEED * per_need)
        needs = store.ids("needs", {"status": AVAILABLE["needs"]})
        copies = self.catalogue.copies("needs", needs)
        needs = [n for n in needs if n not in copies]
        rejected = {(int(r["need_id"]), int(r["result_id"]))
                    for r in store.rows("candidates", {"status": "rejected"})}
        conflicts = {(int(r["org_a"]), int(r["org_b"])) for r in store.rows("conflicts")}
        left_out = {"below_min_confidence": 0, "same_organisation": 0, "rejected": 0, "conflict": 0, "copies": 0}
        pairs: list[assignment.Pair] = []
        for done, need_id in enumerate(needs, start=1):
            need = store.get("needs", need_id)
            matches = self.matching.match_listing("needs", need_id, top_k=pool,
                                                  filters={"status": AVAILABLE["results"]},
                                                  explain=False)
            kept = self.matching.without_copies(matches)
            left_out["copies"] += len(matches) - len(kept)
            for m in kept:
                conf = m.sure
                org_n, org_r = need.get("org_id"), m.item.get("org_id")
                if conf < min_confidence:
                    left_out["below_min_confidence"] += 1
                elif org_n is not None and org_n == org_r:
                    left_out["same_organisation"] += 1
                elif (need_id, m.id) in rejected:
                    left_out["rejected"] += 1
                elif org_n is not None and org_r is not None and tuple(sorted((org_n, org_r))) in conflicts:
                    left_out["conflict"] += 1
                else:
                    pairs.append(assignment.Pair(need_id, m.id, float(conf), float(m.score), org_r, m.rank,
                                                 m.components))
            if progress:
                progress(done, len(needs))
        listed = store.count("results", {"status": AVAILABLE["results"]})
        return pairs, {"needs_open": len(needs), "results_listed": listed,
                       **left_out}

    def assign(self, per_need: int = 5, capacity: int = 3, min_confidence: float = 0.1,
               org_capacity: int | None = None, pool: int | None = None, actor: str = "system",
               progress: Progress | None = None) -> dict[str, Any]:
        """Run an assignment round: solve (exactly) for the largest total confidence under the limits, store the round
        and its pairs (each pair also a pending candidate of the review queue, unless a broker already decided it),
        and return the round with its figures on the same pool of pairs: beside greedy under the same limits, greedy
        top-k with none, and what each limit cost (the exact optimum with the limits added one at a time). No
        organisation limit unless `org_capacity` is given."""
        if not 1 <= per_need <= 50 or not 1 <= capacity <= 1000 or not 0 <= min_confidence <= 1:
            raise Invalid("per_need must be 1–50, capacity 1–1000 and min_confidence 0–1")
        if org_capacity is not None and not 1 <= org_capacity <= 10_000:
            raise Invalid("org_capacity must be 1–10000")
        pairs, counts = self.eligible_pairs(per_need, min_confidence, pool, progress)
        chosen, seconds = assignment.timed(assignment.solve, pairs, per_need, capacity, org_capacity)

        def measured(picked: list[int], took: float) -> dict[str, Any]:
            return assignment.figures(pairs, picked, counts["needs_open"], counts["results_listed"], took)

        limits = [("per_need", None, None), ("capacity", capacity, None)]
        if org_capacity is not None:
            limits.append(("org_capacity", capacity, org_capacity))
        figures = {"assignment": measured(chosen, seconds),
                   "greedy_limited": measured(*assignment.timed(assignment.greedy_limited, pairs, per_need, capacity,
                                                                org_capacity)),
                   "greedy_top_k": measured(*assignment.timed(assignment.greedy, pairs, per_need)),
                   "limits": [{"limit": name, **measured(*assignment.timed(assignment.solve, pairs, per_need, cap,
                                                                           org))}
                              for name, cap, org in limits],
                   "eligible_pairs": len(pairs), "left_out": {k: v for k, v in counts.items()
                                                              if k not in ("needs_open", "results_listed")}}
        store = self.store
        with store.transaction():
            round_id = store.insert("assignment_rounds", {
                "per_need": per_need, "capacity": capacity, "org_capacity": org_capacity,
                "min_confidence": min_confidence, "figures": figures, "actor": actor, "created_at": now()})
            for i in chosen:
                p = pairs[i]
                # a batch run may add the same pair meanwhile: then its candidate (and any decision on it) is used
                cand_id = store.insert_new("candidates", {
                    "run_id": None, "need_id": p.need, "result_id": p.result, "rank": p.rank, "score": p.score,
                    "confidence": p.confidence, "method": "assignment", "components": p.components or {},
                    "explanation": {}, "status": "pending"}, ("need_id", "result_id"))
                if cand_id is None:
                    cand_id = int(store.find("candidates", need_id=p.need, result_id=p.result)["id"])
                store.insert("assignments", {"round_id": round_id, "need_id": p.need, "result_id": p.result,
                                             "candidate_id": cand_id, "score": p.score, "confidence": p.confidence})
            store.audit(actor, "assign", "assignment_rounds", round_id,
                        {"per_need": per_need, "capacity": capacity, "org_capacity": org_capacity,
                         "min_confidence": min_confidence, "pairs": len(chosen)})
        self._explain_new(round_id)
        return self.get_round(round_id)

    def _explain_new(self, round_id: int) -> None:
        """Shared terms, best sentence and field fits for the round's pairs that had no candidate before (the review
        cards show them); computed after the round is stored, pair by pair."""
        store = self.store
        for row in store.rows("assignments", {"round_id": round_id}):
            cand = store.get("candidates", int(row["candidate_id"]))
            if cand["method"] != "assignment" or cand["status"] != "pending" or cand.get("explanation"):
                continue
            need, result = store.get("needs", int(row["need_id"])), store.get("results", int(row["result_id"]))
            query = self.matching.matcher.listing_query("needs", need)
            explanation = self.matching.matcher.explain_pair("results", need, result, query.lexical_text)
            store.update("candidates", int(cand["id"]), {"explanation": explanation})

    def get_round(self, round_id: int) -> dict[str, Any]:
        """One round: its limits, figures and pairs (best first within each need)."""
        row = self.store.get("assignment_rounds", round_id)
        items = self.store.rows("assignments", {"round_id": round_id}, order=("need_id", "-confidence", "id"))
        return {**row, "items": [{k: a[k] for k in ("need_id", "result_id", "candidate_id", "score", "confidence")}
                                 for a in items]}

    def list_rounds(self, limit: int = 20, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Assignment rounds, newest first (without their pairs), and their total."""
        rows = self.store.rows("assignment_rounds", order="-id", limit=limit, offset=offset)
        return rows, self.store.count("assignment_rounds")

    def round_ids(self) -> Sequence[int]:
        """Ids of every round, newest first (the review queue offers them as sources)."""
        return [int(r["id"]) for r in self.store.rows("assignment_rounds", order="-id", limit=200)]
