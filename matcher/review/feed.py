"""Candidates for a need as soon as it is posted: no batch run to wait for.

A scan of the store's change log (like the alert scan) ranks the results of every need posted or changed since its
cursor that is open, and stores them in the review queue as pending candidates — the same rows, scores and
explanations a batch run stores, decisions on earlier candidates kept. The cursor moves in the transaction that
stores them, so a crash repeats a scan and never skips one; one scan at a time across every process (a lock in
the store). `techmatch serve` and `techmatch ui` run it every second (`CandidateWorker`); a need posted through
any process, the API, the workbench or an import, is in the queue within a couple of seconds.
"""

from __future__ import annotations

import uuid
from typing import Any

from matcher.catalogue.service import Catalogue
from matcher.matching.service import Matching
from matcher.periodic import Periodic
from matcher.review.batches import COPY_SLACK, Batches
from matcher.settings import Settings
from matcher.store import Store

LOCK = "candidates-scan"
LOCK_TTL = 300.0
CURSOR = "candidates_seq"  # how far the scan has read the change log (a catalogue fact in the store)
BATCH = 200  # changes read per scan


class CandidateWorker(Periodic):
    """The feed's run_once on a daemon thread every second."""

    def __init__(self, feed: CandidateFeed, interval: float = 1.0) -> None:
        super().__init__("candidate-worker", interval, lambda: bool(feed.run_once()) or True)


class CandidateFeed:
    """Candidates for needs as soon as they are posted (a scan of the change log)."""

    def __init__(self, settings: Settings, store: Store, owner: str, catalogue: Catalogue, matching: Matching,
                 batches: Batches) -> None:
        self.settings = settings
        self.store = store
        self.owner = owner
        self.catalogue = catalogue
        self.matching = matching
        self.batches = batches

    def scan(self, limit: int = BATCH) -> dict[str, int]:
        """One pass over the change log past the cursor: candidates for the open needs posted or changed there.
        Returns {"changes": read, "needs": ranked, "candidates": stored}; does nothing while another process scans or
        when `candidates_on_post` is 0. The first scan ever starts at the log's end (what came before is a batch run's
        work)."""
        top_k = self.settings.candidates_on_post
        store = self.store
        if top_k <= 0:
            return {"changes": 0, "needs": 0, "candidates": 0}
        token = f"{self.owner}:{uuid.uuid4().hex[:8]}"
        if not store.try_lock(LOCK, token, LOCK_TTL):
            return {"changes": 0, "needs": 0, "candidates": 0}
        try:
            cursor = store.meta(CURSOR)
            if cursor is None:
                store.put_meta(CURSOR, str(store.last_change()))
                return {"changes": 0, "needs": 0, "candidates": 0}
            read = store.changes_since(int(cursor), limit)
            if not read:
                return {"changes": 0, "needs": 0, "candidates": 0}
            last = int(read[-1]["seq"])
            touched = list(dict.fromkeys(int(c["item_id"]) for c in read
                                         if c["side"] == "needs" and c["op"] == "upsert"))
            rows = store.get_many("needs", touched)
            open_needs = [i for i in touched if i in rows and rows[i].get("status") == "open"]
            copies = self.catalogue.copies("needs", open_needs) if open_needs else {}
            method = self.settings.method
            ranked = [(need_id, self.matching.without_copies(self.matching.match_listing(
                "needs", need_id, top_k=top_k + COPY_SLACK, method=method))[:top_k])
                      for need_id in open_needs if need_id not in copies]
            with store.transaction():
                stored = sum(self.batches.store_candidates(None, need_id, matches, method) for need_id,
                             matches in ranked)
                store.put_meta(CURSOR, str(last))
            return {"changes": len(read), "needs": len(ranked), "candidates": stored}
        finally:
            store.release_lock(LOCK, token)

    def run_once(self) -> dict[str, Any]:
        """Scan until the change log is read."""
        found = {"changes": 0, "needs": 0, "candidates": 0}
        while True:
            step = self.scan()
            found = {k: found[k] + step[k] for k in found}
            if step["changes"] == 0:
                return found

    def worker(self) -> CandidateWorker | None:
        """The feed's background worker for a long-running process (API, workbench), when
        TECHMATCH_CANDIDATES_ON_POST asks for it (not started)."""
        return CandidateWorker(self) if self.settings.candidates_on_post else None
