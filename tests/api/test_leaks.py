"""No confidential fact reaches an outsider by any read path: every read endpoint of the OpenAPI document (not a
hand list) is called, for every confidential need of the demo catalogue and every outsider role, with the need's
id, its best counterparts' ids, fragments of its hidden text as `q` and as search text, and hidden sort keys.

A leak is any 6-character window of the need's hidden text (description, keywords, challenge goal and indicators)
that occurs nowhere else in the catalogue, or the need ranked by a search made of its hidden-only text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher.app import App

from ..conftest import copy_of, make_settings

pytestmark = pytest.mark.slow
OUTSIDERS = {"anonymous": None, "firm": ("firm", "泄露测试企业"), "institution": ("institution", "泄露测试研究院")}
HIDDEN = ("description", "challenge_goal", "challenge_indicators")


# a confidential need imported without an organisation: it is nobody's own, not the anonymous caller's
OWNERLESS = {"title": "无主保密需求：高温合金涂层", "confidentiality": "仅经纪人可见", "budget": 8888,
             "description": "型号QZX-9913的钯铑催化薄膜在高温下失活，需要新的载体配方，寿命提升一倍以上。",
             "keywords": "钯铑催化薄膜,QZX载体配方", "industry": "先进材料", "deadline": "2027-04-30"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, e5_encoder, demo_catalogue):
    data = copy_of(demo_catalogue, tmp_path_factory.mktemp("leaks") / "data")
    service = App(make_settings(data), encoder=e5_encoder)
    report = service.importer.import_bytes(json.dumps(OWNERLESS, ensure_ascii=False).encode(), "needs", "jsonl")
    assert report.accepted == 1 and service.store.get("needs", report.ids[0])["org_id"] is None
    keys = {name: service.accounts.create_key(*spec)[0] if spec else None for name, spec in OUTSIDERS.items()}
    broker = service.accounts.create_key("broker", "泄露测试经纪机构")[0]
    with TestClient(create_app(service.settings, service=service)) as client:
        yield client, service, keys, broker
    service.close()


def _texts(row: dict, fields) -> list[str]:
    out = [str(row.get(f) or "") for f in fields]
    return [t for t in out if t]


def secrets_of(service: App) -> list[tuple[dict, list[str], list[str]]]:
    """(need, hidden windows found nowhere else, hidden-only fragments for q/search) per confidential need."""
    needs = service.catalogue.list_listings("needs", limit=10_000)[0]
    results = service.catalogue.list_listings("results", limit=10_000)[0]
    orgs = service.catalogue.list_orgs(limit=10_000)[0]
    out = []
    for need in needs:
        if need["confidentiality"] != "brokers":
            continue
        # what is public anyway: the need's title and structured fields, every other listing and organisation
        public = {k: v for k, v in need.items() if k not in (*HIDDEN, "keywords", "contact")}
        elsewhere = json.dumps([public, *[n for n in needs if n["id"] != need["id"]], *results, *orgs],
                               ensure_ascii=False)
        hidden = _texts(need, HIDDEN) + need["keywords"]
        windows = sorted({h[i:i + 6] for h in hidden for i in range(len(h) - 5)
                          if not re.search(r"\s", h[i:i + 6]) and h[i:i + 6] not in elsewhere})
        fragments = [w for w in windows if len(w) == 6][:: max(1, len(windows) // 3)][:3]
        out.append((need, windows, fragments))
    return out


def calls(spec: dict, need: dict, counterparts: list[int], fragments: list[str]):
    """Every (method, url, params, body) to try against the read endpoints of the OpenAPI document."""
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method == "post" and path == "/search":
                for f in fragments:
                    for side in ("needs", "results"):
                        yield "POST", path, {}, {"text": f, "side": side, "top_k": 20}
                continue
            if method != "get":
                continue
            names = {p["name"] for p in op.get("parameters", [])}
            targets = [{}]
            if "{need_id}" in path:
                targets = [{"need_id": need["id"]}]
            elif "{result_id}" in path:
                targets = [{"result_id": r} for r in counterparts]
            elif "{org_id}" in path:
                targets = [{"org_id": need["org_id"]}] if need["org_id"] is not None else []
            elif "{table}" in path:
                targets = [{"table": "needs"}, {"table": "candidates"}]
            elif re.search(r"\{\w+\}", path):
                targets = [{re.search(r"\{(\w+)\}", path).group(1): 1}]
            variants = [{}]
            if "q" in names:
                variants += [{"q": f} for f in fragments]
            if "sort" in names:
                variants += [{"sort": s} for s in ("-budget", "budget", "-deadline")] if path == "/needs" else []
            if "limit" in names:
                variants = [{**v, "limit": 200} for v in variants]
            for target in targets:
                url = path
                for k, v in target.items():
                    url = url.replace("{" + k + "}", str(v))
                for v in variants:
                    yield "GET", url, v, None


@pytest.mark.parametrize("who", list(OUTSIDERS))
def test_no_hidden_fact_reaches_an_outsider_by_any_read_endpoint(demo, who):
    client, service, keys, broker = demo
    headers = {"Authorization": f"Bearer {keys[who]}"} if keys[who] else {}
    spec = client.get("/openapi.json").json()
    secrets = secrets_of(service)
    assert len(secrets) >= 10  # the demo catalogue's confidential needs
    checked = 0
    for need, windows, fragments in secrets:
        assert windows, need["title"]
        best = client.get(f"/needs/{need['id']}/matches", params={"top_k": 3},
                          headers={"Authorization": f"Bearer {broker}"}).json()["items"]
        for method, url, params, body in calls(spec, need, [m["id"] for m in best], fragments):
            r = client.request(method, url, params=params, json=body, headers=headers)
            assert r.status_code in (200, 401, 403, 404), (url, params, r.status_code, r.text[:200])
            if r.status_code != 200:
                continue
            text = r.text if "json" not in r.headers.get("content-type", "") else json.dumps(
                {k: v for k, v in r.json().items() if k != "query"} if isinstance(r.json(), dict) else r.json(),
                ensure_ascii=False)
            leaked = [w for w in windows if w in text]
            assert not leaked, (who, url, params, body, leaked[:3])
            if body is not None and body["side"] == "needs":
                assert need["id"] not in [m["id"] for m in r.json()["items"]], (who, body)
            checked += 1
    assert checked > 200


@pytest.mark.parametrize("who", ["firm", "institution"])
def test_the_need_check_suggests_no_keyword_only_confidential_needs_hold(demo, who):
    """The suggester's probe: a draft holding a keyword found only in confidential needs. A tagger that learnt the
    keyword would hand it back whole as a suggestion."""
    client, service, keys, _ = demo
    needs = service.catalogue.list_listings("needs", limit=10_000)[0]
    public_text = json.dumps([n for n in needs if n["confidentiality"] != "brokers"]
                             + service.catalogue.list_listings("results", limit=10_000)[0], ensure_ascii=False)
    from matcher.retrieval import text as text_mod

    known = text_mod._explain_tagger.__wrapped__()[0].tokenizer.FREQ  # a fresh tagger's dictionary: learnt nothing
    hidden = sorted({k for n in needs if n["confidentiality"] == "brokers" for k in n["keywords"]
                     if len(k) >= 3 and k not in public_text and not known.get(k)})
    assert len(hidden) >= 5, hidden
    headers = {"Authorization": f"Bearer {keys[who]}"}
    for word in hidden:
        suggested = client.post("/needs/check", headers=headers,
                                json={"title": word, "description": f"需要{word}。"}).json()["suggested"]
        assert word not in suggested["keywords"], (who, word)


@pytest.mark.parametrize("role", ["firm", "institution"])
def test_no_hidden_fact_reaches_an_outsider_in_the_workbench(demo, role, monkeypatch):
    """The workbench's pages ask the same policy: signed in as an outsider, open every confidential need in 需求与成果
    (its card and what it matches), search with its hidden fragments, and open every challenge."""
    from streamlit import config as st_config
    from streamlit.testing.v1 import AppTest

    from matcher.settings import get_settings
    from ui.state import get_service

    _, service, _, _ = demo
    st_config.set_option("runner.magicEnabled", False)
    monkeypatch.setenv("TECHMATCH_DATA_DIR", str(service.settings.data_dir))
    get_settings.cache_clear()
    get_service.clear()
    key = service.accounts.create_key(role, f"泄露测试{role}")[0]
    at = AppTest.from_file(str(Path(__file__).parents[2] / "ui" / "app.py"), default_timeout=120).run()
    at.text_input(key="signin_key").input(key)
    next(b for b in at.button if b.label == "登录").click().run()
    assert not at.exception

    def shown() -> str:
        parts = []
        for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader", "header", "title"):
            parts += [str(e.value) for e in getattr(at, kind)]
        parts += [d.value.to_string() for d in at.dataframe]
        return " ".join(parts)

    secrets = secrets_of(service)
    try:
        at.sidebar.radio(key="page").set_value("listings").run()
        at.radio(key="s_side").set_value("needs").run()
        listed = set(at.selectbox(key="s_open").options)  # the newest needs; outsiders' searches skip these ones
        reachable = [x for x in secrets if any(o.startswith(f"#{x[0]['id']} ") for o in listed)]
        assert len(reachable) >= 3
        for need, windows, fragments in reachable:
            at.selectbox(key="s_open").set_value(need["id"]).run()
            assert not at.exception
            text = shown()
            assert need["title"] in text
            assert not [w for w in windows if w in text], (role, need["id"])
            for fragment in fragments:
                at.text_input(key="s_text").input(fragment).run()
                assert not [w for w in windows if w in shown()], (role, need["id"], fragment)
            at.text_input(key="s_text").input("").run()
        at.sidebar.radio(key="page").set_value("challenges").run()
        hidden_windows = [w for _, windows, _ in secrets for w in windows]
        challenges = service.challenges.list_challenges(limit=200)[0]
        for challenge in challenges:
            at.radio(key="c_open").set_value(challenge["id"]).run()
            assert not at.exception
            assert not [w for w in hidden_windows if w in shown()], (role, challenge["id"])
    finally:
        get_service.clear()
        get_settings.cache_clear()
