"""One catalogue, many processes: real `techmatch serve` processes on one data folder see each other's writes.

Every process's indexes are derived from the store's change log, so a write through one is ranked by the others
within a second, a kill -9 loses no acknowledged write, and the batch lock holds across processes.
"""

from __future__ import annotations

import httpx
import pytest

from matcher.app import App

from .conftest import make_settings
from .servers import Server, wait_for

pytestmark = pytest.mark.slow

RESULT = {"title": "{w}低温等离子体废气净化装置", "abstract": "{w}采用介质阻挡放电处理喷涂车间挥发性有机物，去除率九成以上。",
          "industry": "new_energy", "trl": 7, "transfer_modes": ["license"]}


def result_body(word: str) -> dict:
    return {k: v.format(w=word) if isinstance(v, str) else v for k, v in RESULT.items()}


def keys_for(data) -> dict[str, str]:
    service = App(make_settings(data))
    try:
        return {"admin": service.accounts.create_key("admin", "测试科技局")[0],
                "broker": service.accounts.create_key("broker", "测试技术转移中心")[0]}
    finally:
        service.close()


def found(client: httpx.Client, text: str, result_id: int) -> bool:
    items = client.post("/search", json={"text": text, "side": "results", "top_k": 5}).json()["items"]
    return result_id in [i["id"] for i in items]


@pytest.fixture
def pair(catalogue_copy):
    """Two API servers on one data folder, and an admin and a broker key."""
    keys = keys_for(catalogue_copy)
    a, b = Server(catalogue_copy).start(), Server(catalogue_copy).start()
    yield a, b, keys
    a.stop()
    b.stop()


def test_two_servers_see_each_others_writes_within_a_second(pair):
    a, b, keys = pair
    with a.client(keys["admin"]) as ca, b.client(keys["admin"]) as cb:
        for writer, reader, word in ((ca, cb, "甲型"), (cb, ca, "乙型")):
            made = writer.post("/results", json=result_body(word))
            assert made.status_code == 201, made.text
            rid = made.json()["id"]
            text = f"{word}低温等离子体废气净化"
            assert wait_for(lambda r=reader, t=text, i=rid: found(r, t, i), timeout=1.0) < 1.0
        # an edit and a delete follow the same path
        rid = made.json()["id"]
        assert cb.patch(f"/results/{rid}", json={"title": "丙型微波干燥杀菌设备"}).status_code == 200
        wait_for(lambda: found(ca, "丙型微波干燥杀菌设备", rid), timeout=1.0)
        assert cb.delete(f"/results/{rid}").status_code == 204
        wait_for(lambda: not found(ca, "乙型低温等离子体废气净化", rid), timeout=1.0)
        # a background poll keeps an idle server in step too: /health shows no lag
        wait_for(lambda: ca.get("/health").json()["lag"] == 0, timeout=1.0)
        assert ca.get("/health").json()["indexed"] == cb.get("/health").json()["indexed"]


def test_review_decisions_are_seen_by_the_other_server(pair, catalogue_copy):
    a, b, keys = pair
    service = App(make_settings(catalogue_copy))
    service.batches.run_now(top_k=2)
    service.close()
    with a.client(keys["broker"]) as ca, b.client(keys["broker"]) as cb:
        cand = ca.get("/candidates").json()["items"][0]
        r = ca.post(f"/candidates/{cand['id']}/decision", json={"decision": "confirm", "note": "双方同意洽谈"})
        assert r.status_code == 200, r.text
        wait_for(lambda: cb.get(f"/candidates/{cand['id']}").json()["status"] == "confirmed", timeout=1.0)
        assert cand["id"] not in [c["id"] for c in cb.get("/candidates").json()["items"]]
        assert cb.get("/pairings").json()["total"] == 1


def test_a_batch_run_anywhere_blocks_a_second_one_everywhere(pair, catalogue_copy):
    a, b, keys = pair
    holder = App(make_settings(catalogue_copy))
    ticket = holder.batches.start(top_k=2, method=None, actor="test")  # a third process holds the lock
    try:
        for server in (a, b):
            with server.client(keys["admin"]) as c:
                r = c.post("/batch-runs", json={"top_k": 2})
                assert r.status_code == 409 and r.json()["error"]["code"] == "batch_running", r.text
    finally:
        holder.batches.run(ticket)
        holder.close()
    with a.client(keys["admin"]) as c:
        r = c.post("/batch-runs", json={"top_k": 2})
        assert r.status_code == 202, r.text


@pytest.mark.parametrize("victim", [0, 1])
def test_kill_9_loses_no_acknowledged_write(catalogue_copy, victim):
    keys = keys_for(catalogue_copy)
    servers = [Server(catalogue_copy).start(), Server(catalogue_copy).start()]
    try:
        acked = []
        with servers[victim].client(keys["admin"]) as c:
            for i in range(5):
                r = c.post("/results", json=result_body(f"批次{i}号"))
                assert r.status_code == 201
                acked.append(r.json()["id"])
        servers[victim].kill()  # right after the acknowledgements: no snapshot, no shutdown code
        survivor = servers[1 - victim]
        with survivor.client() as c:
            for i, rid in enumerate(acked):
                wait_for(lambda rid=rid, i=i: found(c, f"批次{i}号低温等离子体废气净化装置", rid), timeout=1.0)
        servers[victim] = Server(catalogue_copy).start()  # a restart finds every acknowledged write indexed
        with servers[victim].client() as c:
            health = c.get("/health").json()
            assert health["indexed"]["results"] == health["counts"]["results"] and health["lag"] == 0
            for i, rid in enumerate(acked):
                assert found(c, f"批次{i}号低温等离子体废气净化装置", rid)
    finally:
        for s in servers:
            s.stop()


def test_workers_share_one_catalogue(catalogue_copy):
    keys = keys_for(catalogue_copy)
    server = Server(catalogue_copy, workers=2).start()
    try:
        with server.client(keys["admin"]) as writer:
            rid = writer.post("/results", json=result_body("双工")).json()["id"]
        # new connections land on either worker: every one of them must rank the new result
        for _ in range(8):
            with server.client() as c:
                wait_for(lambda c=c: found(c, "双工低温等离子体废气净化装置", rid), timeout=1.0)
        server.kill()
        server = Server(catalogue_copy, workers=2).start()
        with server.client() as c:
            assert found(c, "双工低温等离子体废气净化装置", rid)
    finally:
        server.stop()


def test_a_cli_import_into_a_served_folder_is_seen_within_a_second(catalogue_copy, tmp_path):
    import json
    import subprocess
    import sys

    server = Server(catalogue_copy).start()
    try:
        rows = [{**result_body(f"导入{i}号"), "ref": f"CLI-{i}"} for i in range(3)]
        src = tmp_path / "results.jsonl"
        src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
        with server.client() as c:
            before = c.get("/health").json()["indexed"]["results"]
        done = subprocess.run([sys.executable, "-m", "matcher.cli", "import", str(src), "--kind", "results",
                               "--data-dir", str(catalogue_copy)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        with server.client() as c:
            wait_for(lambda: c.get("/health").json()["indexed"]["results"] == before + 3, timeout=1.0)
            hits = c.post("/search", json={"text": "导入1号低温等离子体废气净化装置", "side": "results",
                                           "top_k": 3}).json()["items"]
            assert hits[0]["item"]["ref"] == "CLI-1"
        # the server's own snapshots never drop what the CLI wrote: a restart still has it
        server.stop()
        server = Server(catalogue_copy).start()
        with server.client() as c:
            assert c.get("/health").json()["indexed"]["results"] == before + 3
    finally:
        server.stop()
