"""Batch matching: candidates for every open need, stored for review; one run at a time across all processes.

The "one at a time" is a lock in the store (with an expiry its holder renews), so a second run asked of any
process on the same catalogue — another API worker, the workbench, the CLI — is refused with Busy (409).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from matcher.catalogue.service import Catalogue
from matcher.errors import Busy, Conflict
from matcher.matching.service import Matching
from matcher.periodic import Periodic
from matcher.retrieval.ranking import get_method
from matcher.settings import Settings
from matcher.store import Store, now

if TYPE_CHECKING:
    from matcher.matching.matcher import Match
    from matcher.progress import Progress

LOCK = "batch"
LOCK_TTL = 120.0  # seconds; renewed after every need, so only a dead holder lets it lapse


class BatchRunning(Busy):
    """A batch run was asked for while another is going."""

    code = "batch_running"


@dataclass(frozen=True)
class Ticket:
    """A registered run and the lock token that lets it run."""

    run_id: int
    token: str


CHUNK = 20  # needs per transaction (and per task on an engine)
COPY_SLACK = 5  # extra results ranked per need, so the top_k stay full after copies of a better one are dropped


class _LockKeeper(Periodic):
    """Renews the batch lock from a thread of its own every quarter of its expiry while a run goes (an engine's
    workers may take longer than that to start); `lost` when a renewal was refused."""

    def __init__(self, store: Any, token: str) -> None:
        self.lost = False

        def renew() -> bool:
            self.lost = not store.try_lock(LOCK, token, LOCK_TTL)
            return not self.lost  # a refused renewal ends the thread; an error is retried well before the expiry
        super().__init__("batch-lock", LOCK_TTL / 4, renew)


class Batches:
    """Batch runs: every open need ranked and its candidates stored, one run at a time."""

    def __init__(self, settings: Settings, store: Store, owner: str, catalogue: Catalogue, matching: Matching) -> None:
        self.settings = settings
        self.store = store
        self.owner = owner
        self.catalogue = catalogue
        self.matching = matching

    def running(self) -> bool:
        """Whether any process is running a batch on this catalogue now."""
        return self.store.lock_owner(LOCK) is not None

    def start(self, top_k: int, method: str | None, actor: str, resume: int | None = None) -> Ticket:
        """Take the batch lock and register a run (status queued), or re-open an interrupted one (`resume`: its id);
        BatchRunning when one is going anywhere."""
        method = method or self.matching.batch_method()
        get_method(method)
        token = f"{self.owner}:{uuid.uuid4().hex[:8]}"
        if not self.store.try_lock(LOCK, token, LOCK_TTL):
            raise BatchRunning("a batch run is already going; wait for it to finish")
        try:
            # holding the lock, no other run is alive: one still marked running lost its process
            self.store.fail_unfinished_batches("interrupted: the process running it stopped")
            if resume is not None:
                old = self.store.get("batch_runs", resume)
                if old["status"] == "done":
                    raise Conflict(f"batch run {resume} is finished; start a new one")
                self.store.update("batch_runs", resume, {"status": "queued", "finished_at": None})
                return Ticket(resume, token)
            run_id = self.store.insert("batch_runs", {
                "status": "queued", "method": method, "top_k": top_k, "needs_total": 0, "needs_done": 0,
                "candidates": 0, "started_at": now(), "actor": actor})
        except BaseException:
            self.store.release_lock(LOCK, token)
            raise
        return Ticket(run_id, token)

    def run(self, ticket: Ticket, progress: Progress | None = None, engine: Any = None
            ) -> dict[str, Any]:
        """Compute and store candidates for every open need, then give the lock back.

        Candidates already confirmed or rejected keep their decision; pending ones get fresh scores. Needs are scored
        in chunks, each stored in one transaction, in this process or on an engine (matcher.bulk: Ray). A resumed run
        skips the needs it already scored.
        """
        store = self.store
        try:
            batch = store.get("batch_runs", ticket.run_id)
            method, top_k = batch["method"], int(batch["top_k"])
            needs = store.ids("needs", {"status": "open"})
            copies = self.catalogue.copies("needs", needs)  # a need posted twice is scored once: its first copy
            needs = [n for n in needs if n not in copies]
            done_before = store.scored_needs(ticket.run_id)
            todo = [n for n in needs if n not in done_before]
            store.update("batch_runs", ticket.run_id, {"status": "running", "needs_total": len(needs),
                                                       "needs_done": len(needs) - len(todo), "error": None})
            chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]
            done, total = len(needs) - len(todo), store.count("candidates", {"run_id": ticket.run_id})
            try:
                if engine is None:
                    scored = ((len(chunk), self.score_needs(ticket.run_id, chunk, top_k, method)) for chunk in chunks)
                else:
                    scored = engine.rank(self.settings, ticket.run_id, chunks, top_k, method)
                keeper = _LockKeeper(store, ticket.token).start()  # renewed while an engine's workers start up too
                try:
                    for n_needs, n_candidates in scored:
                        if keeper.lost:
                            raise BatchRunning("the batch lock was lost (this run stalled past its expiry)")
                        done, total = done + n_needs, total + n_candidates
                        store.update("batch_runs", ticket.run_id, {"needs_done": done, "candidates": total})
                        if progress:
                            progress(done, len(needs))
                finally:
                    keeper.stop()
                if keeper.lost:
                    raise BatchRunning("the batch lock was lost (this run stalled past its expiry)")
            except Exception as exc:
                store.update("batch_runs", ticket.run_id, {"status": "failed", "error": str(exc)[:500],
                                                           "finished_at": now()})
                raise
            total = store.count("candidates", {"run_id": ticket.run_id})  # chunks a crash left uncounted included
            store.update("batch_runs", ticket.run_id, {"status": "done", "finished_at": now(), "candidates": total,
                                                       "engine": getattr(engine, "name", "local")})
            store.audit(batch["actor"], "batch_match", "batch_runs", ticket.run_id,
                        {"needs": len(needs), "candidates": total, "engine": getattr(engine, "name", "local"),
                         "copies_skipped": sorted(copies)})
            return store.get("batch_runs", ticket.run_id)
        finally:
            store.release_lock(LOCK, ticket.token)

    def score_needs(self, run_id: int, need_ids: list[int], top_k: int, method: str) -> int:
        """Rank results for these needs and store them as the run's candidates in one transaction; returns how many.
        Idempotent: a chunk scored again (a retried task) rewrites the same rows."""
        ranked = [(need_id, self.matching.without_copies(self.matching.match_listing("needs", need_id,
                                                                                     top_k=top_k + COPY_SLACK,
                                                                                     method=method))[:top_k])
                  for need_id in need_ids]
        with self.store.transaction():
            return sum(self.store_candidates(run_id, need_id, matches, method) for need_id, matches in ranked)

    def run_now(self, top_k: int = 10, method: str | None = None, actor: str = "system",
                progress: Progress | None = None, engine: Any = None, resume: int | None = None) -> dict[str, Any]:
        """Start (or resume) and run a batch in the caller's thread (CLI, workbench), in process or on an engine."""
        return self.run(self.start(top_k, method, actor, resume), progress, engine)

    def store_candidates(self, run_id: int | None, need_id: int, matches: list[Match], method: str
                         ) -> int:
        """Store a need's ranked results as pending candidates (a run's, or none: posted needs' own); a candidate a
        broker decided keeps its decision, a pending one gets the new scores. Returns how many were stored."""
        with self.store.transaction():
            for m in matches:
                row = {"run_id": run_id, "need_id": need_id, "result_id": m.id, "rank": m.rank, "score": m.score,
                       "confidence": m.confidence, "method": method, "components": m.components,
                       "explanation": m.explanation}
                existing = self.store.find("candidates", need_id=need_id, result_id=m.id)
                if existing is None:
                    self.store.insert("candidates", {**row, "status": "pending"})
                elif existing["status"] == "pending":
                    self.store.update("candidates", existing["id"], row)
        return len(matches)

    def list_runs(self, limit: int = 20, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Batch runs, newest first, and their total."""
        return self.store.rows("batch_runs", order="-id", limit=limit, offset=offset), \
            self.store.count("batch_runs")

    def get_run(self, run_id: int) -> dict[str, Any]:
        """One batch run (NotFound when unknown)."""
        return self.store.get("batch_runs", run_id)
