"""What many processes and threads on one data folder must survive: concurrent migrations, thread churn, racing
snapshots, a locked embedding cache, a batch whose process died."""

from __future__ import annotations

import gc
import sqlite3
import threading

import pytest

from embeddings import CachedEncoder
from matcher.app import App
from matcher.review import batches
from matcher.store import MIGRATIONS
from matcher.store import SQLiteStore as Store

from .conftest import make_settings


def test_processes_migrating_one_new_file_at_once_all_succeed(tmp_path):
    path = tmp_path / "fresh.db"
    errors, stores = [], []

    def open_store() -> None:
        try:
            stores.append(Store(path))  # each Store has its own connections, as separate processes would
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert {s.version for s in stores} == {len(MIGRATIONS)}
    for s in stores:
        s.close()


def test_threads_that_end_leave_no_open_connection(tmp_path):
    store = Store(tmp_path / "t.db")
    threads = [threading.Thread(target=lambda: store.count("needs")) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gc.collect()
    assert len(store._readers) == 0
    store.close()


def test_racing_snapshots_leave_a_pointer_to_the_newest_existing_snapshot(catalogue_copy, e5_encoder):
    settings = make_settings(catalogue_copy)
    a, b = App(settings, encoder=e5_encoder), App(settings, encoder=e5_encoder)
    a.load()
    b.load()
    errors = []

    def writer(service: App, tag: str) -> None:
        try:
            for i in range(4):
                service.catalogue.add_result({"title": f"快照竞争{tag}{i}号成果"})
                service.indexes.live.snapshot()
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, t)) for s, t in ((a, "甲"), (b, "乙"), (a, "丙"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    current = a.indexes._live.current()
    assert (a.indexes._live.folder / current["snapshot"]).is_dir()
    assert current["seq"] == max(int(p.name.split("-")[0]) for p in a.indexes._live.folder.iterdir()
                                 if not p.name.startswith(".tmp"))
    fresh = App(settings, encoder=e5_encoder)
    assert sorted(fresh.indexes.live.sides["results"].dense.ids()) == fresh.store.ids("results")
    for s in (a, b, fresh):
        s.close()


def test_a_locked_embedding_cache_fails_one_write_and_recovers(tmp_path, e5_encoder):
    cache = CachedEncoder(e5_encoder, tmp_path / "cache.db")
    cache.table.conn.execute("PRAGMA busy_timeout=100")
    other = sqlite3.connect(str(tmp_path / "cache.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the cache file
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        cache.encode_documents(["第一次写入时缓存被占用"])
    other.execute("ROLLBACK")
    assert cache.encode_documents(["第一次写入时缓存被占用"]).shape == (1, e5_encoder.dim)
    assert cache.encode_documents(["又一条新文本"]).shape == (1, e5_encoder.dim)  # the connection stays usable
    other.close()


def test_a_batch_left_running_by_a_dead_process_is_marked_failed(catalogue_copy, e5_encoder):
    s = App(make_settings(catalogue_copy), encoder=e5_encoder)
    ticket = s.batches.start(2, None, "test")
    s.store.update("batch_runs", ticket.run_id, {"status": "running"})
    s.store.release_lock(batches.LOCK, ticket.token)  # its process died: the lock lapsed, the row says running
    run = s.batches.run_now(top_k=2)
    assert run["status"] == "done"
    dead = s.batches.get_run(ticket.run_id)
    assert dead["status"] == "failed" and "interrupted" in dead["error"]
    s.close()


def test_switching_to_wal_waits_for_a_process_holding_the_file(tmp_path):
    """Two workers opening one SQLite file at once: "database is locked" on the journal-mode switch is retried,
    not a failed start (seen when `serve --workers 2` started both workers together)."""
    import sqlite3
    import threading
    import time

    from embeddings.cache import use_wal

    path = tmp_path / "shared.db"
    holder = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    holder.execute("create table t (x)")
    holder.execute("begin exclusive")  # another process has the file to itself for a moment
    release = threading.Timer(0.5, lambda: holder.execute("commit"))
    release.start()
    other = sqlite3.connect(str(path), isolation_level=None, timeout=0)  # no busy handler: fails at once
    started = time.monotonic()
    use_wal(other, patience=10)
    assert time.monotonic() - started >= 0.4
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    release.join()
    holder.close()
    other.close()
