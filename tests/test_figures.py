"""The operators' figures on a real catalogue: counters, breakdowns, time to first match, no confidential text."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from .conftest import FIXTURES


@pytest.fixture
def catalogue(fresh_service):
    fresh_service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    fresh_service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    return fresh_service


def test_an_empty_catalogue_has_zero_figures(fresh_service):
    f = fresh_service.figures.figures()
    assert f["totals"]["needs_posted"] == 0 and f["totals"]["contract_value"] == 0
    assert f["by_district"] == [] and f["by_month"] == [] and f["last_batch"] is None
    assert f["time_to_first_match"] == {"n": 0, "median_days": None, "mean_days": None}


def test_figures_follow_the_pipeline(catalogue):
    s = catalogue
    f = s.figures.figures()
    assert f["totals"]["needs_posted"] == 5 and f["totals"]["needs_open"] == 5
    assert f["totals"]["results_listed"] == s.store.count("results") and f["totals"]["candidates_pending"] == 0
    # every month between the first and the last, a month without postings at zero (April)
    assert [r["month"] for r in f["by_month"]] == ["2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07"]
    assert next(r for r in f["by_month"] if r["month"] == "2026-04")["needs_posted"] == 0
    changshou = next(r for r in f["by_district"] if r["district"] == "长寿区")
    assert changshou["needs_posted"] == 2
    s.batches.run_now(top_k=3)
    f = s.figures.figures()
    assert f["totals"]["candidates_pending"] == 15 and f["last_batch"]["candidates"] == 15
    first = s.store.find("needs", ref="T-N01")
    second = s.store.find("needs", ref="T-N05")
    for need in (first, second):
        cand = s.queue.list_candidates(need_id=need["id"])[0][0]
        s.queue.decide(cand["id"], "confirm")
    pairings = {p["need_id"]: p for p in s.pipeline.list_pairings()[0]}
    for stage in ("contacted", "negotiating"):
        s.pipeline.move_pairing(pairings[first["id"]]["id"], stage)
    s.pipeline.move_pairing(pairings[first["id"]]["id"], "contract_signed", contract_value=80.5)
    f = s.figures.figures()
    t = f["totals"]
    assert (t["needs_open"], t["needs_matched"], t["needs_solved"]) == (3, 2, 1)
    assert (t["confirmed_pairings"], t["contracts_signed"], t["contract_value"]) == (2, 1, 80.5)
    qijiang = next(r for r in f["by_district"] if r["district"] == "綦江区")
    assert qijiang["contracts_signed"] == 1 and qijiang["contract_value"] == 80.5
    assert next(r for r in f["by_month"] if r["month"] == "2026-07")["confirmed_pairings"] == 1
    cluster = next(r for r in f["by_cluster"] if r["industry"] == first["industry"])
    assert cluster["name"] == s.vocab.industries.name(first["industry"]) and cluster["needs_solved"] == 1
    ttfm = f["time_to_first_match"]
    days = [(dt.datetime.fromisoformat(pairings[n["id"]]["created_at"][:19])
             - dt.datetime.fromisoformat(n["posted_at"][:10])).total_seconds() / 86400 for n in (first, second)]
    assert ttfm["n"] == 2 and ttfm["median_days"] == pytest.approx(max(0, sum(days) / 2), abs=0.1)
    assert sum(r["needs_posted"] for r in f["by_cluster"]) == 5
    # one definition per figure: a funnel whose every step is a subset of the one before
    assert [(r["step"], r["needs"]) for r in f["funnel"]] == [
        ("needs_posted", 5), ("needs_proposed", 5), ("needs_matched", 2), ("needs_solved", 1), ("needs_closed", 0)]
    s.pipeline.move_pairing(pairings[second["id"]]["id"], "dropped")  # a dropped pairing matches nothing
    f = s.figures.figures()
    assert f["totals"]["needs_matched"] == 1 and f["totals"]["confirmed_pairings"] == 1
    assert [(w["actor"], w["confirmed"], w["rejected"]) for w in f["workload"]] == [("system", 2, 0)]
    assert sum(m["confirmed_pairings"] for m in f["pairings_by_month"]) == 2


def test_confidential_needs_count_but_show_no_text(catalogue):
    s = catalogue
    secret = s.store.find("needs", ref="T-N04")
    assert secret["confidentiality"] == "brokers"
    f = s.figures.figures()
    assert f["totals"]["needs_posted"] == 5
    assert next(r for r in f["by_district"] if r["district"] == "两江新区")["needs_posted"] >= 1
    dumped = json.dumps(f, ensure_ascii=False, default=str)
    for text in (secret["title"], secret["description"][:12]):
        assert text not in dumped
