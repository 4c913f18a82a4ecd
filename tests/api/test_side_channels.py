"""Side channels on confidential needs that a probe found, each closed: a need with no organisation is nobody's own,
BM25 scores and keyword suggestions are computed from what every caller may read, ids of any length are 404 not
500, a redacted need hides its deadline, and sign-in is throttled."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher.access import create_key, throttle
from matcher.app import App
from matcher.errors import Throttled

from ..conftest import FIXTURES, make_settings

PROBE = "QZX-9913"
# an ownerless confidential need, as an import would bring it (no org), with text found nowhere else
OWNERLESS = {"title": "无主保密需求样本", "description": f"型号{PROBE}的钯铑催化薄膜在高温下失活，需要新的载体配方，"
             "寿命提升一倍。", "confidentiality": "仅经纪人可见", "budget": 9999, "industry": "先进材料",
             "keywords": "钯铑催化薄膜,载体配方", "deadline": "2027-05-01"}


@pytest.fixture(scope="module")
def probe(tmp_path_factory, e5_encoder):
    """A catalogue with the fixture listings and one ownerless confidential need, served by the real app."""
    service = App(make_settings(tmp_path_factory.mktemp("probe")), encoder=e5_encoder)
    service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    report = service.importer.import_bytes(json.dumps(OWNERLESS, ensure_ascii=False).encode(), "needs", "jsonl")
    assert report.accepted == 1 and not report.rejected
    secret = service.store.get("needs", report.ids[0])
    assert secret["org_id"] is None and secret["confidentiality"] == "brokers"
    keys = {"firm": create_key(service.store, "firm", "探测企业")[0],
            "institution": create_key(service.store, "institution", "探测研究院")[0],
            "broker": create_key(service.store, "broker", "探测经纪机构")[0]}
    with TestClient(create_app(service.settings, service=service)) as client:
        yield client, service, keys, secret
    service.close()


def as_(keys, who):
    return {"Authorization": f"Bearer {keys[who]}"} if who else {}


@pytest.mark.parametrize("who", [None, "firm", "institution"])
def test_a_confidential_need_with_no_organisation_is_nobody_s_own(probe, who):
    client, _, keys, secret = probe
    found = client.get("/needs", params={"q": PROBE}, headers=as_(keys, who)).json()
    assert found["total"] == 0 and found["items"] == []
    ranked = client.post("/search", headers=as_(keys, who), json={
        "text": f"{PROBE} 钯铑催化薄膜 载体配方", "side": "needs", "method": "lexical", "top_k": 20}).json()["items"]
    assert secret["id"] not in [m["id"] for m in ranked]
    by_budget = client.get("/needs", params={"sort": "-budget", "limit": 200}, headers=as_(keys, who)).json()["items"]
    assert by_budget[0]["id"] != secret["id"]
    shown = next(n for n in by_budget if n["id"] == secret["id"])  # listed (its title is public), redacted
    assert shown["redacted"] and shown["budget"] is None and shown["deadline"] is None
    assert PROBE not in json.dumps(by_budget, ensure_ascii=False)
    assert client.get(f"/needs/{secret['id']}/matches", headers=as_(keys, who)).status_code == 403
    assert client.get(f"/needs/{secret['id']}/duplicates", headers=as_(keys, who)).status_code == 403
    # a broker sees it whole
    assert client.get("/needs", params={"q": PROBE}, headers=as_(keys, "broker")).json()["total"] == 1


def test_a_redacted_need_withholds_its_deadline(probe):
    client, service, keys, _ = probe
    t_n04 = service.catalogue.find_by_ref("needs", "T-N04")
    assert t_n04["deadline"]
    assert client.get(f"/needs/{t_n04['id']}").json()["deadline"] is None
    assert client.get(f"/needs/{t_n04['id']}", headers=as_(keys, "broker")).json()["deadline"] == t_n04["deadline"]


def lexical_of(client, keys, who, text, need_id):
    items = client.post("/search", headers=as_(keys, who), json={"text": text, "side": "needs",
                                                                 "method": "lexical", "top_k": 50}).json()["items"]
    return next(m["components"]["lexical"] for m in items if m["id"] == need_id)


def test_bm25_scores_seen_by_an_outsider_do_not_count_hidden_text(probe):
    """The oracle: a firm posts its own need holding a probe term and reads that need's BM25 score; the score moved
    when a confidential need of another organisation holding the term arrived (its document frequency counted)."""
    client, service, keys, _ = probe
    term = "铈锆固溶体"
    own = client.post("/needs", headers=as_(keys, "firm"), json={
        "title": "探测需求", "description": f"我司需要{term}储氧材料的制备工艺。", "industry": "advanced_materials"}).json()
    before = lexical_of(client, keys, "firm", term, own["id"])
    broker_before = lexical_of(client, keys, "broker", term, own["id"])
    service.catalogue.add_need({"title": "另一家的保密需求", "description": f"{term}{term}{term}催化剂老化问题", "org": "他家企业",
                                "confidentiality": "brokers", "industry": "advanced_materials"})
    after = lexical_of(client, keys, "firm", term, own["id"])
    assert after == pytest.approx(before, rel=1e-6), "the outsider's score moved with hidden text"
    assert lexical_of(client, keys, "broker", term, own["id"]) != pytest.approx(broker_before)  # brokers: all text
    # and the term's rarity among hidden texts shows in no explanation an outsider reads
    assert lexical_of(client, keys, None, term, own["id"]) == pytest.approx(before, rel=1e-6)


def test_the_keyword_suggester_learns_no_confidential_keyword(probe):
    client, service, keys, _ = probe
    word = "铱钌锇复合涂层"  # found in no dictionary: only a listing's keywords could teach it
    draft = {"title": word, "description": f"需要{word}。"}
    service.catalogue.add_need({"title": "保密的涂层需求", "description": "高温部件防护。", "keywords": [word], "org": "他家企业",
                                "confidentiality": "brokers", "industry": "advanced_materials"})
    for who in ("firm", "broker"):
        checked = client.post("/needs/check", headers=as_(keys, who), json=draft).json()
        assert word not in checked["suggested"]["keywords"], who
    # the same keyword on a public listing is learnt (so the check above can see learning when it happens)
    service.catalogue.add_result({"title": "公开的涂层成果", "abstract": "高温部件防护涂层。", "keywords": [word],
                                  "org": "某研究院", "industry": "advanced_materials"})
    assert word in client.post("/needs/check", headers=as_(keys, "firm"), json=draft).json()["suggested"]["keywords"]


@pytest.mark.parametrize("path", ["/needs/{}", "/results/{}", "/needs/{}/matches", "/challenges/{}/applications",
                                  "/subscriptions/{}"])
def test_ids_of_any_length_are_404_not_500(probe, path):
    client, _, keys, _ = probe
    for digits in (17, 40, 5000):
        r = client.get(path.format("9" * digits), headers=as_(keys, "broker"))
        assert r.status_code == 404, (digits, r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == "not_found"
    assert client.get(path.format(9_007_199_254_740_993), headers=as_(keys, "broker")).status_code in (404, 422)


def test_password_sign_in_is_throttled_per_account_then_locked(tmp_path, monkeypatch):
    service = App(make_settings(tmp_path / "data"))
    service.accounts.create_user("li.broker", "the right password", "broker", "某技术转移中心")
    clock = [1_000_000.0]
    monkeypatch.setattr(throttle.time, "time", lambda: clock[0])
    checked = refused = 0
    for _ in range(60):  # the probe: 60 wrong passwords as fast as allowed, then the right one
        try:
            assert service.accounts.sign_in("li.broker", "wrong password!", client="10.1.2.3") is None
            checked += 1
        except Throttled as exc:
            refused += 1
            if exc.retry_after < 600:
                clock[0] += exc.retry_after  # wait exactly as long as told
    assert checked == throttle.RULES["account"].lock_at and refused == 60 - checked  # only 10 were even checked
    with pytest.raises(Throttled) as locked:
        service.accounts.sign_in("li.broker", "the right password", client="10.1.2.3")
    assert locked.value.retry_after > 600  # locked for a quarter of an hour
    # the same answer for a name that does not exist: the throttle does not tell which accounts exist
    checked = 0
    while checked < throttle.RULES["account"].lock_at:
        try:
            assert service.accounts.sign_in("no.such.user", "whatever", client="10.9.9.9") is None
            checked += 1
        except Throttled as exc:
            clock[0] += exc.retry_after
    with pytest.raises(Throttled) as locked_too:
        service.accounts.sign_in("no.such.user", "whatever", client="10.9.9.9")
    assert locked_too.value.retry_after > 600
    lockouts = [r for r in service.store.rows("audit_log") if r["action"] == "lockout"]
    assert {r["detail"]["key"] for r in lockouts} >= {"account:li.broker", "account:no.such.user"}
    clock[0] += 901  # the lockout ends; the right password works and clears the account's failures
    assert service.accounts.sign_in("li.broker", "the right password", client="10.1.2.3").user == "li.broker"
    assert throttle.wait(service.store, throttle.keys("li.broker", None), clock[0]) == 0
    service.close()


def test_growing_delays_come_before_the_lockout(tmp_path, monkeypatch):
    service = App(make_settings(tmp_path / "data"))
    clock = [5_000.0]
    monkeypatch.setattr(throttle.time, "time", lambda: clock[0])
    waits = []
    for _ in range(9):
        assert service.accounts.sign_in("wang", "nope-nope-nope") is None
        waits.append(round(throttle.wait(service.store, throttle.keys("wang", None))))
        clock[0] += waits[-1]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60]
    service.close()


def test_many_names_from_one_client_are_throttled_too(tmp_path, monkeypatch):
    service = App(make_settings(tmp_path / "data"))
    clock = [9_000.0]
    monkeypatch.setattr(throttle.time, "time", lambda: clock[0])
    for i in range(throttle.RULES["client"].free):
        service.accounts.sign_in(f"user{i}", "password-guess", client="198.51.100.7")
    assert throttle.wait(service.store, throttle.keys("someone.new", "198.51.100.7")) > 0
    assert throttle.wait(service.store, throttle.keys("someone.new", "198.51.100.8")) == 0
    service.close()


def test_a_signed_in_firm_cannot_see_what_a_confidential_need_matches_in_the_workbench(probe, monkeypatch):
    """The workbench and the API ask one policy: the service refuses to rank by hidden text for an outsider."""
    from matcher.errors import Forbidden

    _, service, _, secret = probe
    firm = service.accounts.authenticate_key(create_key(service.store, "firm", "另一家企业")[0])
    with pytest.raises(Forbidden):
        service.matching.match_listing("needs", secret["id"], viewer=firm)
    with pytest.raises(Forbidden):
        service.catalogue.duplicates("needs", secret["id"], viewer=firm)
    with pytest.raises(Forbidden):
        service.topics.research_topic(need_id=secret["id"], viewer=firm)
    assert service.matching.match_listing("needs", secret["id"], viewer=True)  # insiders (CLI, batch runs) still can
