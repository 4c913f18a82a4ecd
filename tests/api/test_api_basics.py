"""Health, OpenAPI, listings, matching and the review flow over HTTP."""

from __future__ import annotations

import time

import pytest

from .conftest import auth


def ref_id(service, side, ref):
    return service.store.find(side, ref=ref)["id"]


def test_health_ready_and_request_ids(api):
    client, _, _ = api
    r = client.get("/health", headers={"X-Request-ID": "abc-123"})
    body = r.json()
    assert r.status_code == 200 and body["status"] == "ready" and body["encoder"] == "e5-small-q4"
    assert body["indexed"] == {"needs": 5, "results": 12}
    assert r.headers["x-request-id"] == "abc-123"
    assert len(client.get("/health").headers["x-request-id"]) == 32


def test_openapi_is_complete_with_examples(api):
    client, _, _ = api
    spec = client.get("/openapi.json").json()
    for path in ("/needs", "/results", "/needs/{need_id}/matches", "/results/{result_id}/matches", "/search",
                 "/candidates", "/candidates/{candidate_id}/decision", "/pairings/{pairing_id}/stage",
                 "/challenges", "/challenges/{need_id}/applications", "/imports", "/exports/{table}", "/figures",
                 "/batch-runs", "/organisations", "/reviews"):
        assert path in spec["paths"], path
    assert spec["components"]["schemas"]["NeedCreate"]["examples"]
    assert "ErrorResponse" in spec["components"]["schemas"]


def test_lists_paginate_filter_and_sort(api):
    client, _, _ = api
    r = client.get("/results", params={"limit": 2, "offset": 1, "sort": "title"}).json()
    assert r["total"] == 12 and len(r["items"]) == 2 and r["offset"] == 1
    titles = [x["title"] for x in client.get("/results", params={"sort": "title", "limit": 50}).json()["items"]]
    assert titles == sorted(titles)
    food = client.get("/results", params={"industry": "food_agri"}).json()
    assert food["total"] == 2 and {x["industry"] for x in food["items"]} == {"food_agri"}
    mature = client.get("/results", params={"trl_min": 9}).json()["items"]
    assert mature and all(x["trl"] == 9 for x in mature)
    assert client.get("/needs", params={"q": "榨菜"}).json()["total"] == 1
    assert client.get("/needs", params={"mode": "technical_service"}).status_code == 422
    assert client.get("/needs", params={"sort": "-nonsense"}).status_code == 422


def test_matches_both_ways_and_search(api):
    client, service, _ = api
    r = client.get(f"/needs/{ref_id(service, 'needs', 'T-N02')}/matches", params={"top_k": 3}).json()
    assert r["items"][0]["item"]["ref"] == "T-R04" and r["method"] == "hybrid"
    top = r["items"][0]
    assert {"dense", "lexical", "fused", "hubness"} <= set(top["components"]) and top["explanation"]["summary"]
    assert 0 < top["confidence"] < 1 and top["confidence"] == max(m["confidence"] for m in r["items"])
    plain = client.get(f"/needs/{ref_id(service, 'needs', 'T-N02')}/matches",
                       params={"top_k": 3, "method": "lexical"}).json()
    assert plain["items"][0]["confidence"] is None  # only calibrated methods carry one
    back = client.get(f"/results/{ref_id(service, 'results', 'T-R05')}/matches", params={"top_k": 1}).json()
    assert back["items"][0]["item"]["ref"] == "T-N03"
    s = client.post("/search", json={"text": "轴承故障预警", "side": "results", "top_k": 2}).json()
    assert s["items"][0]["item"]["ref"] == "T-R09"
    f = client.get(f"/needs/{ref_id(service, 'needs', 'T-N01')}/matches",
                   params={"industry": "food_agri", "top_k": 5}).json()
    assert {m["item"]["industry"] for m in f["items"]} == {"food_agri"}


def test_owner_writes_and_reads_its_need(api):
    client, service, keys = api
    body = {"title": "花椒烘干设备改造", "description": "希望降低烘干能耗，保持麻味。", "industry": "food_agri",
            "coop_modes": ["commissioned_dev"], "budget": 30, "deadline": "2027-03-01"}
    r = client.post("/needs", json=body, headers=auth(keys, "firm"))
    assert r.status_code == 201, r.text
    need = r.json()
    assert need["org_id"] == service.store.find("organisations", name="测试齿轮有限公司")["id"]
    hit = client.post("/search", json={"text": "花椒烘干", "side": "needs", "top_k": 1}).json()["items"][0]
    assert hit["id"] == need["id"]
    r = client.patch(f"/needs/{need['id']}", json={"status": "closed"}, headers=auth(keys, "firm"))
    assert r.status_code == 200 and r.json()["status"] == "closed"
    same = client.patch(f"/needs/{need['id']}", json={}, headers=auth(keys, "firm"))
    assert same.status_code == 200 and same.json()["status"] == "closed"
    assert client.delete(f"/needs/{need['id']}", headers=auth(keys, "other_firm")).status_code == 403
    assert client.delete(f"/needs/{need['id']}", headers=auth(keys, "firm")).status_code == 204
    assert client.get(f"/needs/{need['id']}").status_code == 404


def test_review_flow_to_a_signed_contract_is_audited(api):
    client, _service, keys = api
    b = auth(keys, "broker")
    assert client.post("/batch-runs", json={"top_k": 3}, headers=auth(keys, "admin")).status_code == 202
    for _ in range(200):
        runs = client.get("/batch-runs", headers=b).json()["items"]
        if runs[0]["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert runs[0]["status"] == "done" and runs[0]["needs_done"] == runs[0]["needs_total"] == 5
    queue = client.get("/candidates", headers=b).json()
    assert queue["total"] == 15
    first = queue["items"][0]
    r = client.post(f"/candidates/{first['id']}/decision", json={"decision": "confirm", "note": "有意向"}, headers=b)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    again = client.post(f"/candidates/{first['id']}/decision", json={"decision": "confirm"}, headers=b)
    assert again.status_code == 409 and "already confirmed" in again.json()["error"]["message"]
    rej = client.post(f"/candidates/{queue['items'][1]['id']}/decision", json={"decision": "reject"}, headers=b)
    assert rej.status_code == 422 and "reason_code" in str(rej.json()["error"]["details"])
    bulk = client.post("/candidates/bulk-reject", json={"candidate_ids": [queue["items"][1]["id"],
                                                                          queue["items"][2]["id"]],
                                                        "reason_code": "off_topic"}, headers=b)
    assert bulk.json() == {"rejected": 2}
    pairing = client.get("/pairings", headers=b).json()["items"][0]
    pid = pairing["id"]
    for stage in ("contacted", "negotiating"):
        assert client.post(f"/pairings/{pid}/stage", json={"stage": stage}, headers=b).status_code == 200
    bad = client.post(f"/pairings/{pid}/stage", json={"stage": "contract_signed"}, headers=b)
    assert bad.status_code == 422 and "contract_value" in bad.json()["error"]["message"]
    done = client.post(f"/pairings/{pid}/stage", json={"stage": "contract_signed", "contract_value": 88.5},
                       headers=b).json()
    assert done["stage"] == "contract_signed" and done["contract_value"] == 88.5
    assert [h["detail"]["to"] for h in done["history"] if h["action"] == "move"] == [
        "contacted", "negotiating", "contract_signed"]
    assert all(h["actor"].startswith("broker:测试技术转移中心") for h in done["history"])
    figures = client.get("/figures", headers=b).json()
    assert figures["totals"]["contracts_signed"] == 1 and figures["totals"]["contract_value"] == 88.5
    assert client.get("/reviews", headers=b).json()["total"] == 3


def test_a_second_batch_while_one_runs_is_refused(api):
    client, service, keys = api
    from matcher.app import App
    from matcher.review import batches

    other = App(service.settings)  # another process on the same catalogue holds the batch lock
    ticket = other.batches.start(3, None, "test")
    try:
        r = client.post("/batch-runs", json={"top_k": 3}, headers=auth(keys, "admin"))
        assert r.status_code == 409 and r.json()["error"]["code"] == "batch_running"
        with pytest.raises(batches.BatchRunning):
            service.batches.run_now()
    finally:
        other.store.release_lock(batches.LOCK, ticket.token)
        other.close()


def test_challenge_publish_and_apply(api):
    client, service, keys = api
    nid = ref_id(service, "needs", "T-N01")
    body = {"need_id": nid, "goal": "齿面寿命提升30%", "indicators": "台架试验报告", "deadline": "2027-06-30", "reward": 200}
    assert client.post("/challenges", json=body, headers=auth(keys, "other_firm")).status_code == 403
    assert client.post("/challenges", json=body, headers=auth(keys, "firm")).status_code == 201
    assert nid in [c["id"] for c in client.get("/challenges").json()["items"]]
    rid = ref_id(service, "results", "T-R01")
    r = client.post(f"/challenges/{nid}/applications", json={"proposal": "激光淬火方案", "result_id": rid},
                    headers=auth(keys, "institution"))
    assert r.status_code == 201 and r.json()["org"] == "测试工业大学"
    assert client.get(f"/challenges/{nid}/applications", headers=auth(keys, "firm")).json()[0]["proposal"]
    assert client.get(f"/challenges/{nid}/applications", headers=auth(keys, "other_firm")).status_code == 403


def test_import_upload_reports_rows_and_export(api):
    client, service, keys = api
    before = service.store.count("results")
    csv_body = "成果名称,成熟度,合作方式\n新型密封件,通过中试,技术许可\n坏成果,快成熟了,技术许可\n".encode()
    r = client.post("/imports", params={"kind": "results"}, files={"file": ("r.csv", csv_body, "text/csv")},
                    headers=auth(keys, "admin"))
    assert r.status_code == 201, r.text
    rep = r.json()
    assert rep["accepted"] == 1 and rep["rejected_rows"] == 1 and rep["rejected"][0]["row"] == 3  # as Excel shows it
    assert service.store.count("results") == before + 1
    bad = client.post("/imports", params={"kind": "results"}, files={"file": ("r.pdf", b"%PDF", "application/pdf")},
                      headers=auth(keys, "admin"))
    assert bad.status_code == 422 and ".csv" in bad.json()["error"]["message"]
    exp = client.get("/exports/results", params={"format": "csv"}, headers=auth(keys, "broker"))
    assert exp.status_code == 200 and "新型密封件" in exp.text
