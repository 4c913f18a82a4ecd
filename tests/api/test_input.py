"""Bad input gets a 4xx in the shared error shape, and nothing is partly written."""

from __future__ import annotations

import pytest

from .conftest import auth

GOOD = {"title": "输入测试需求", "industry": "other"}


def counts(service):
    return {t: service.store.count(t) for t in ("needs", "results", "audit_log")}, len(
        service.indexes.live.sides["needs"].dense)


@pytest.mark.parametrize(("body", "headers", "status", "code", "hint"), [
    (b"{not json", {"content-type": "application/json"}, 422, "validation_error", "not valid JSON"),
    (b'{"title": 5}', {"content-type": "application/json"}, 422, "validation_error", "title"),
    (b'{"title": "x", "colour": "red"}', {"content-type": "application/json"}, 422, "validation_error",
     "unknown field"),
    (b'{"title": "x", "industry": "space"}', {"content-type": "application/json"}, 422, "validation_error",
     "industry"),
    (b'{"title": "x", "budget": -1}', {"content-type": "application/json"}, 422, "validation_error", "budget"),
    (b'{"title": "x", "wanted_trl_min": 12}', {"content-type": "application/json"}, 422, "validation_error",
     "wanted_trl_min"),
    ('{"title": "' + "长" * 201 + '"}', {"content-type": "application/json"}, 422, "validation_error", "title"),
    (b'{"title": "a\\u0000b"}', {"content-type": "application/json"}, 422, "nul_character", "NUL"),
    (b'{"title": "\xff\xfe"}', {"content-type": "application/json"}, 400, "invalid_utf8", "UTF-8"),
    (b"[1, 2]", {"content-type": "application/json"}, 422, "validation_error", "body"),
    (b"", {"content-type": "application/json"}, 422, "validation_error", "body"),
])
def test_bad_bodies_are_refused_and_write_nothing(api, body, headers, status, code, hint):
    client, service, keys = api
    before = counts(service)
    data = body.encode() if isinstance(body, str) else body
    r = client.post("/needs", content=data, headers={**headers, **auth(keys, "firm")})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["request_id"]
    assert hint in err["message"] + str(err["details"]), err
    assert counts(service) == before


def test_oversized_bodies_get_413(api):
    client, service, keys = api
    big = b'{"title": "x", "description": "' + b"a" * (service.settings.max_body_bytes + 10) + b'"}'
    r = client.post("/needs", content=big, headers={"content-type": "application/json", **auth(keys, "firm")})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_unknown_ids_and_paths_get_404_in_the_same_shape(api):
    client, _, keys = api
    for url in ("/needs/999999", "/results/999999/matches", "/organisations/999999", "/no/such/path"):
        r = client.get(url)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", url
    r = client.get("/candidates/999999", headers=auth(keys, "broker"))
    assert r.status_code == 404 and "does not exist" in r.json()["error"]["message"]
    r = client.post("/pairings/999999/stage", json={"stage": "contacted"}, headers=auth(keys, "broker"))
    assert r.status_code == 404


def test_bad_query_strings(api):
    client, _, _ = api
    assert client.get("/needs?q=%00").status_code == 400
    assert client.get("/needs?q=%ff").status_code == 400
    r = client.get("/needs", params={"limit": 0})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.limit"
    assert client.get("/needs/abc").status_code == 404
    assert client.get("/needs/99999999999999999999999999").status_code == 404  # beyond any id: no such route
    assert client.post("/search", json={"text": "   "}).status_code == 422


def test_unknown_query_parameters_are_refused_everywhere(api):
    client, _, keys = api
    r = client.get("/needs", params={"lmit": 5})
    assert r.status_code == 422 and "unknown query parameter 'lmit'" in r.json()["error"]["message"]
    assert "limit" in r.json()["error"]["message"]  # it names what the endpoint reads
    headers = {"Authorization": f"Bearer {keys['firm']}"}
    assert client.post("/needs/check?=0", headers=headers, json={"title": "齿轮"}).status_code == 422
    assert client.post("/needs/check?lang=en", headers=headers, json={"title": "齿轮"}).status_code == 200
    assert client.get("/health", params={"verbose": 1}).status_code == 422


def test_a_duplicate_ref_is_a_conflict(api):
    client, _service, keys = api
    r = client.post("/needs", json={**GOOD, "ref": "T-N01"}, headers=auth(keys, "firm"))
    assert r.status_code == 409 and "exists" in r.json()["error"]["message"]
