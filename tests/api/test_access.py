"""Who may do what (a role × endpoint matrix) and the confidentiality of brokers-only needs."""

from __future__ import annotations

import json

import pytest

from .conftest import auth

WHO = [None, "firm", "other_firm", "institution", "broker", "admin"]
ALLOWED = "allowed"


def ids(service):
    f = service.store.find
    return {"need": f("needs", ref="T-N01")["id"], "secret": f("needs", ref="T-N04")["id"],
            "result": f("results", ref="T-R01")["id"], "foreign_result": f("results", ref="T-R03")["id"]}


# (name, method, path template, json body, {caller: expected status}); unlisted callers expect the "else" status
MATRIX = [
    ("list needs", "GET", "/needs", None, {"else": 200}),
    ("read results", "GET", "/results/{result}", None, {"else": 200}),
    ("need matches", "GET", "/needs/{need}/matches", None, {"else": 200}),
    ("secret need matches", "GET", "/needs/{secret}/matches", None,
     {None: 403, "firm": 403, "other_firm": 403, "institution": 403, "broker": 200, "admin": 200}),
    ("post need", "POST", "/needs", {"title": "新需求", "industry": "other"},
     {None: 401, "firm": 201, "other_firm": 201, "institution": 403, "broker": 403, "admin": 201}),
    ("post result", "POST", "/results", {"title": "新成果", "trl": 5},
     {None: 401, "firm": 403, "other_firm": 403, "institution": 201, "broker": 403, "admin": 201}),
    ("edit need", "PATCH", "/needs/{need}", {"contact": "rd2@test-gear.example.cn"},
     {None: 401, "firm": 200, "other_firm": 403, "institution": 403, "broker": 403, "admin": 200}),
    ("edit result", "PATCH", "/results/{result}", {"team": "表面工程课题组（扩充）"},
     {None: 401, "firm": 403, "other_firm": 403, "institution": 200, "broker": 403, "admin": 200}),
    ("edit others' result", "PATCH", "/results/{foreign_result}", {"team": "x"},
     {None: 401, "else": 403, "admin": 200}),
    ("review queue", "GET", "/candidates", None, {None: 401, "else": 403, "broker": 200, "admin": 200}),
    ("pairings", "GET", "/pairings", None, {None: 401, "else": 403, "broker": 200, "admin": 200}),
    ("figures", "GET", "/figures", None, {None: 401, "else": 403, "broker": 200, "admin": 200}),
    ("export", "GET", "/exports/needs", None, {None: 401, "else": 403, "broker": 200, "admin": 200}),
    ("batch run", "POST", "/batch-runs", {"top_k": 2}, {None: 401, "else": 403, "admin": 202}),
    ("create organisation", "POST", "/organisations", {"name": "矩阵测试机构", "kind": "institute"},
     {None: 401, "else": 403, "admin": 201}),
    ("import (no file)", "POST", "/imports?kind=needs", None, {None: 401, "else": 403, "admin": 422}),
]


@pytest.mark.parametrize("who", WHO, ids=lambda w: w or "anonymous")
@pytest.mark.parametrize(("name", "method", "path", "body", "expect"), MATRIX, ids=[m[0] for m in MATRIX])
def test_role_matrix(api, who, name, method, path, body, expect):
    client, service, keys = api
    if name == "batch run" and service.batches.running():
        pytest.skip("a batch is running")
    url = path.format(**ids(service))
    want = expect[who] if who in expect else expect["else"]
    if name == "create organisation" and want == 201:
        body = {**body, "name": f"矩阵测试机构-{who}"}
    r = client.request(method, url, json=body, headers=auth(keys, who))
    assert r.status_code == want, (name, who, r.text)
    if r.status_code >= 400:
        assert set(r.json()["error"]) >= {"code", "message", "request_id"}
    if name == "batch run" and r.status_code == 202:
        import time

        while service.batches.running():
            time.sleep(0.05)


def test_a_wrong_or_revoked_key_is_refused(api):
    client, service, _keys = api
    assert client.get("/needs", headers={"Authorization": "Bearer tm_nope"}).status_code == 401
    from matcher.access import create_key
    from matcher.store import now

    plain, row = create_key(service.store, "broker", "临时经纪机构")
    assert client.get("/candidates", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    service.store.update("api_keys", row["id"], {"revoked_at": now()})
    assert client.get("/candidates", headers={"Authorization": f"Bearer {plain}"}).status_code == 401
    assert service.store.find("api_keys", id=row["id"])["key_hash"] != plain  # only the hash is stored


SECRETS = ("后地板", "280MPa", "secret-contact", "免去热处理", "一体化压铸")


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.mark.parametrize("who", [None, "other_firm", "institution", "firm"], ids=lambda w: w or "anonymous")
def test_confidential_text_never_reaches_an_outsider(api, who):
    client, service, keys = api
    secret = service.store.find("needs", ref="T-N04")["id"]
    h = auth(keys, who)
    responses = [
        client.get("/needs", params={"limit": 200}, headers=h),
        client.get("/needs", params={"q": "车身"}, headers=h),
        client.get(f"/needs/{secret}", headers=h),
        client.get(f"/needs/{secret}/matches", headers=h),
        client.get("/challenges", headers=h),
        client.post("/search", json={"text": "车身后地板一体化压铸免热处理", "side": "needs", "top_k": 5}, headers=h),
    ]
    for rid in service.store.ids("results"):
        responses.append(client.get(f"/results/{rid}/matches", params={"top_k": 10}, headers=h))
    for r in responses:
        assert r.status_code in (200, 403), r.text
        body = r.json()
        body.pop("query", None)  # the search request's own text is echoed back; that is the caller's, not the need's
        text = json.dumps(body, ensure_ascii=False)
        assert not _leaks(text), (r.request.url, _leaks(text))
    shown = client.get(f"/needs/{secret}", headers=h).json()
    assert shown["redacted"] is True and shown["title"] and shown["budget"] is None
    # an outsider's needs-side rankings leave other organisations' confidential needs out (brokers pair them),
    # so no rank reflects their hidden text; the owner and brokers see it ranked first for the right result
    r08 = service.store.find("results", ref="T-R08")["id"]
    found = client.get(f"/results/{r08}/matches", params={"top_k": 5}, headers=h).json()["items"]
    assert secret not in [m["id"] for m in found]
    for insider in ("auto_firm", "broker"):
        ranked = client.get(f"/results/{r08}/matches", params={"top_k": 5}, headers=auth(keys, insider)).json()
        assert ranked["items"][0]["id"] == secret


@pytest.mark.parametrize("who", ["auto_firm", "broker", "admin"])
def test_owner_brokers_and_admins_see_the_confidential_need(api, who):
    client, service, keys = api
    secret = service.store.find("needs", ref="T-N04")["id"]
    r = client.get(f"/needs/{secret}", headers=auth(keys, who)).json()
    assert r["redacted"] is False and "后地板" in r["description"] and r["contact"].startswith("secret-contact")
    m = client.get(f"/needs/{secret}/matches", headers=auth(keys, who))
    assert m.status_code == 200 and m.json()["items"][0]["item"]["ref"] == "T-R08"
    if who != "auto_firm":
        exported = client.get("/exports/needs", headers=auth(keys, who)).text
        assert "后地板" in exported
        assert json.loads(exported.splitlines()[0])["title"]
