"""What a broker reaches for every day, through the API: finding pairs by text or organisation, confirming many at
once, the day's decisions and the pipeline as files."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher.access import create_key
from matcher.app import App

from ..conftest import FIXTURES, make_settings


@pytest.fixture
def broker_api(tmp_path, e5_encoder):
    service = App(make_settings(tmp_path / "data"), encoder=e5_encoder)
    service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    service.batches.run_now(top_k=3)
    broker = {"Authorization": f"Bearer {create_key(service.store, 'broker', '测试技术转移中心')[0]}"}
    with TestClient(create_app(service.settings, service=service)) as client:
        yield client, service, broker
    service.close()


def test_find_pairs_by_text_or_organisation_and_confirm_many_at_once(broker_api):
    client, service, broker = broker_api
    everything = client.get("/candidates", headers=broker, params={"limit": 200}).json()
    by_title = client.get("/candidates", headers=broker, params={"q": "齿轮", "limit": 200}).json()
    assert 0 < by_title["total"] < everything["total"]
    assert all("齿轮" in c["need"]["title"] or "齿轮" in c["result"]["title"] or "齿轮" in (c["need"]["org"] or "")
               or "齿轮" in (c["result"]["org"] or "") for c in by_title["items"])
    by_org_name = client.get("/candidates", headers=broker, params={"q": "测试工业大学", "limit": 200}).json()
    uni = service.store.find("organisations", name="测试工业大学")["id"]
    by_org = client.get("/candidates", headers=broker, params={"org_id": uni, "limit": 200}).json()
    assert by_org_name["total"] == by_org["total"] > 0
    assert all(uni in (c["need"]["org_id"], c["result"]["org_id"]) for c in by_org["items"])
    assert client.get("/candidates", headers=broker, params={"q": "100%_无此"}).json()["total"] == 0  # literal
    ids = [c["id"] for c in by_org["items"][:3]]
    done = client.post("/candidates/bulk-confirm", headers=broker, json={"candidate_ids": ids, "note": "批量确认"})
    assert done.status_code == 200 and done.json() == {"confirmed": 3}
    assert {service.store.get("candidates", i)["status"] for i in ids} == {"confirmed"}
    assert service.store.count("pairings") == 3
    again = client.post("/candidates/bulk-confirm", headers=broker, json={"candidate_ids": [ids[0], everything[
        "items"][-1]["id"]]})
    assert again.status_code == 409 and service.store.count("pairings") == 3  # all or none


def test_the_days_decisions_and_the_pipeline_as_files(broker_api):
    client, service, broker = broker_api
    pending = client.get("/candidates", headers=broker, params={"limit": 3}).json()["items"]
    client.post(f"/candidates/{pending[0]['id']}/decision", headers=broker, json={"decision": "confirm",
                                                                                  "note": "=HYPERLINK(1)"})
    client.post(f"/candidates/{pending[1]['id']}/decision", headers=broker, json={
        "decision": "reject", "reason_code": "maturity_gap"})
    got = client.get("/exports/decisions", headers=broker)
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(got.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("时间", "经纪人", "决定") and len(rows) == 3
    assert {r[2] for r in rows[1:]} == {"确认对接", "拒绝"} and "成熟度差距过大" in {r[3] for r in rows[1:]}
    assert "'=HYPERLINK(1)" in {r[4] for r in rows[1:]}  # a formula-like note is neutralised
    english = client.get("/exports/decisions", headers=broker, params={"format": "csv", "lang": "en"})
    lines = list(csv.DictReader(io.StringIO(english.content.decode("utf-8-sig"))))
    assert {r["Decision"] for r in lines} == {"confirmed", "rejected"}
    assert client.get("/exports/decisions", headers=broker, params={"day": "2020-01-01"}).status_code == 200
    pipeline = openpyxl.load_workbook(io.BytesIO(client.get("/exports/pipeline", headers=broker).content)).active
    rows = list(pipeline.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == "已确认待联系" and rows[1][4]  # the stage by name, the need's contact
    assert client.get("/exports/pipeline", headers=broker, params={"format": "pdf"}).status_code == 422
    firm = {"Authorization": f"Bearer {create_key(service.store, 'firm', '某企业')[0]}"}
    assert client.get("/exports/decisions", headers=firm).status_code == 403


def test_a_need_posted_through_the_api_reaches_the_queue_within_seconds_without_a_batch_run(tmp_path, e5_encoder):
    import time

    service = App(make_settings(tmp_path / "data", follow_interval=0.2), encoder=e5_encoder)
    service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    firm = {"Authorization": f"Bearer {create_key(service.store, 'firm', '测试齿轮有限公司')[0]}"}
    broker = {"Authorization": f"Bearer {create_key(service.store, 'broker', '测试技术转移中心')[0]}"}
    with TestClient(create_app(service.settings, service=service)) as client:
        deadline = time.monotonic() + 20
        while service.store.meta("candidates_seq") is None and time.monotonic() < deadline:
            time.sleep(0.1)  # the worker's first scan marks where the queue's feed starts
        posted = time.monotonic()
        need = client.post("/needs", headers=firm, json={
            "title": "减速器齿轮齿面点蚀", "industry": "smart_equipment",
            "description": "齿轮满载运行后齿面点蚀，希望引入齿面强化工艺，接触疲劳寿命提升30%。"}).json()
        found = []
        while not found and time.monotonic() - posted < 10:
            found = client.get("/candidates", headers=broker, params={"need_id": need["id"]}).json()["items"]
            time.sleep(0.2)
        waited = time.monotonic() - posted
        assert found, "no candidates 10 s after posting"
        assert len(found) == service.settings.candidates_on_post or len(found) == service.store.count("results")
        assert not service.store.count("batch_runs") and found[0]["explanation"]["shared_terms"]
        assert found[0]["result"]["title"] == "齿轮齿面激光淬火强化工艺"
        # a decision taken meanwhile is kept when the need changes and is ranked again
        client.post(f"/candidates/{found[0]['id']}/decision", headers=broker, json={"decision": "confirm"})
        client.patch(f"/needs/{need['id']}", headers=firm, json={"title": "减速器齿轮齿面点蚀（更新）"})
        time.sleep(3)
        assert service.store.get("candidates", found[0]["id"])["status"] == "confirmed"
    service.close()
    assert waited < 10
