"""Scale-out on PostgreSQL: a SQLite catalogue migrated into a real PostgreSQL server, and `techmatch serve` replicas
with separate local data folders on that one database, each with its own FAISS index following the shared log."""

from __future__ import annotations

import subprocess
import sys
import threading

import httpx
import pytest

from matcher.app import App

from .conftest import make_settings
from .servers import Server, wait_for
from .test_processes import found, result_body

NEED = {"title": "喷涂车间挥发性有机物废气治理", "description": "喷涂线VOCs排放超标，希望引入低温等离子体或催化燃烧净化，"
        "去除率九成以上。", "industry": "new_energy", "coop_modes": ["license"]}


@pytest.fixture
def migrated(postgres, catalogue_copy, e5_encoder):
    """The fixture catalogue copied into a fresh PostgreSQL database with `techmatch migrate` (a real process)."""
    filler = App(make_settings(catalogue_copy), encoder=e5_encoder.inner)
    filler.indexes.rebuild()  # the folder's own embedding cache holds every listing's vector, as in production
    filler.close()
    url = postgres.database()
    done = subprocess.run([sys.executable, "-m", "matcher.cli", "migrate", "--to", url, "--data-dir",
                           str(catalogue_copy)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DIFFERENT" not in done.stdout and "copied and verified" in done.stdout
    return url


def test_migrate_copies_every_table_and_vectors_and_refuses_a_second_copy(migrated, catalogue_copy, tmp_path,
                                                                          e5_encoder):
    source = App(make_settings(catalogue_copy), encoder=e5_encoder.inner)
    target = App(make_settings(tmp_path / "replica", database_url=migrated), encoder=e5_encoder.inner)
    try:
        for table in ("organisations", "needs", "results", "api_keys", "audit_log"):
            assert source.store.count(table) == target.store.count(table) - (table == "audit_log")
        assert source.store.get("needs", 1) == target.store.get("needs", 1)
        assert target.store.catalogue_id != source.store.catalogue_id
        # a replica with an empty data folder builds its index from the store and the shared vectors: no encoding
        target.load()
        assert target.indexes.encoder.misses == 0 and target.indexes.encoder.hits >= 17
        assert target.indexes.status()["counts"] == {"needs": 5, "results": 12}
        top = target.matching.match_listing("needs", 1, top_k=3)
        assert [m.item["id"] for m in top] == [m.item["id"] for m in source.matching.match_listing("needs", 1, top_k=3)]
        # the target is no longer empty: a second migration is refused and changes nothing
        with pytest.raises(Exception, match="not empty"):
            source.catalogue.migrate_to(migrated)
        assert target.store.count("needs") == 5
    finally:
        source.close()
        target.close()


@pytest.mark.slow
def test_two_replicas_on_one_postgresql_agree_within_a_second_and_survive_kill_9(migrated, tmp_path):
    env = {"TECHMATCH_DATABASE_URL": migrated}
    admin = App(make_settings(tmp_path / "admin", database_url=migrated))
    key = admin.accounts.create_key("admin", "测试科技局")[0]
    admin.close()
    a = Server(tmp_path / "replica-a", env=env).start()
    b = Server(tmp_path / "replica-b", env=env).start()
    try:
        with a.client(key) as ca, b.client(key) as cb:
            for health in (ca.get("/health").json(), cb.get("/health").json()):
                assert health["lag"] == 0 and health["indexed"] == {"needs": 5, "results": 12}
                assert health["store"] == "postgresql" and health["index"] == {"needs": "flat", "results": "flat"}
            # a need and a result posted through A are ranked by B within a second
            rid = ca.post("/results", json=result_body("甲型")).json()["id"]
            nid = ca.post("/needs", json=NEED).json()["id"]
            took = wait_for(lambda: found(cb, "甲型低温等离子体废气净化", rid), timeout=1.0)
            assert took < 1.0

            def ranked() -> bool:
                r = cb.get(f"/needs/{nid}/matches", params={"top_k": 3})
                return r.status_code == 200 and rid in [m["id"] for m in r.json()["items"]]
            wait_for(ranked, timeout=1.0)
            assert cb.get("/health").json()["applied_seq"] == ca.get("/health").json()["applied_seq"]

        # kill -9 replica A while it is taking writes: every acknowledged write is in B's index
        acked: list[tuple[int, int]] = []
        stop = threading.Event()

        def writer() -> None:
            with httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
                i = 0
                while not stop.is_set():
                    try:
                        r = c.post("/results", json=result_body(f"写入{i}号"))
                    except httpx.HTTPError:
                        return  # the replica died mid-request: that write was never acknowledged
                    if r.status_code == 201:
                        acked.append((i, r.json()["id"]))
                    i += 1

        thread = threading.Thread(target=writer)
        thread.start()
        wait_for(lambda: len(acked) >= 5, timeout=60)
        a.kill()
        stop.set()
        thread.join(30)
        assert len(acked) >= 5
        with b.client() as cb:
            health = wait_for(lambda: cb.get("/health").json()["lag"] == 0, timeout=2.0)
            assert health < 2.0
            for i, rid in acked:
                assert found(cb, f"写入{i}号低温等离子体废气净化装置", rid), f"acknowledged write {rid} lost"
        # A comes back with its old local folder and catches up from its snapshot and the log
        a = Server(tmp_path / "replica-a", env=env).start()
        with a.client() as ca, b.client() as cb:
            assert ca.get("/health").json()["indexed"] == cb.get("/health").json()["indexed"]
            i, rid = acked[-1]
            assert found(ca, f"写入{i}号低温等离子体废气净化装置", rid)
    finally:
        a.stop()
        b.stop()


def test_a_replica_started_later_catches_up_from_a_shared_snapshot(migrated, tmp_path, e5_encoder):
    """Replicas may share one snapshot folder: a new one loads the newest snapshot and replays only the tail."""
    shared = tmp_path / "snapshots"
    first = App(make_settings(tmp_path / "one", database_url=migrated, snapshot_dir=shared),
                encoder=e5_encoder.inner)
    first.load()
    first.catalogue.add_listings("results", [result_body("快照后")], actor="test")
    assert first.indexes.live.snapshot(force=True)
    snap = first.indexes.live.snapshot_seq
    first.catalogue.add_listings("results", [result_body("尾部")], actor="test")  # only in the log: no snapshot has it
    later = App(make_settings(tmp_path / "two", database_url=migrated, snapshot_dir=shared),
                encoder=e5_encoder.inner)
    try:
        later.load()
        status = later.indexes.status()
        assert status["snapshot_seq"] == snap < status["applied_seq"]  # loaded the snapshot, replayed the tail
        assert status["lag"] == 0 and status["counts"]["results"] == 14
        assert later.indexes.encoder.misses == 0  # nothing encoded: snapshot + vectors of the tail from the shared cache
        # one pool per process: the embedding cache borrows the catalogue's pooled connections, opening none
        assert later.indexes.encoder.table.conn is None and later.indexes.encoder.table.connection is not None
        assert later.matching.search("尾部低温等离子体废气净化装置", side="results", top_k=1)[0].item["title"].startswith("尾部")
    finally:
        later.close()
        first.close()
