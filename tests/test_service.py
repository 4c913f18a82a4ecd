"""The service layer end to end on a real catalogue: matching both ways, explanations, writes and recovery."""

from __future__ import annotations

import pytest

from matcher.app import App
from matcher.errors import NotFound
from matcher.retrieval.index import IndexMismatch

from .conftest import make_settings

EXPECTED = {"T-N01": "T-R01", "T-N02": "T-R04", "T-N03": "T-R05", "T-N04": "T-R08", "T-N05": "T-R09"}


def _by_ref(service, side, ref):
    return service.store.find(side, ref=ref)


@pytest.mark.parametrize("method", ["hybrid", "dense", "lexical", "rrf"])
def test_each_need_finds_its_answer_first(mini_service, method):
    for need_ref, result_ref in EXPECTED.items():
        need = _by_ref(mini_service, "needs", need_ref)
        top = mini_service.matching.match_need(need["id"], top_k=3, method=method)
        assert top[0].item["ref"] == result_ref, (method, need["title"], [m.item["title"] for m in top])


def test_result_to_needs_direction(mini_service):
    result = _by_ref(mini_service, "results", "T-R04")
    top = mini_service.matching.match_result(result["id"], top_k=2)
    assert top[0].item["ref"] == "T-N02"
    assert top[0].explanation["best_sentence"]  # a sentence of the need


def test_match_carries_components_and_a_readable_explanation(mini_service):
    need = _by_ref(mini_service, "needs", "T-N01")
    m = mini_service.matching.match_need(need["id"], top_k=1)[0]
    assert {"dense", "lexical", "fused", "boost"} <= set(m.components)
    assert m.components["boost"] > 0  # same cluster and district
    ex = m.explanation
    assert "齿轮" in ex["shared_terms"] or "齿面" in ex["shared_terms"]
    assert "接触疲劳" in ex["best_sentence"] or "淬火" in ex["best_sentence"]
    assert ex["fits"]["industry_match"] and ex["fits"]["maturity_gap"] == 0
    assert sorted(ex["fits"]["modes_match"]) == sorted(["技术许可", "合作开发"])
    assert "共同关键词" in ex["summary"]


def test_hard_filters_apply_inside_the_search(mini_service):
    need = _by_ref(mini_service, "needs", "T-N01")
    food = mini_service.matching.match_need(need["id"], top_k=5, filters={"industry": ["food_agri"]})
    assert food and {m.item["industry"] for m in food} == {"food_agri"}
    mature = mini_service.matching.match_need(need["id"], top_k=20, filters={"trl_min": 8})
    assert all(m.item["trl"] >= 8 for m in mature)
    licensed = mini_service.matching.match_need(need["id"], top_k=20, filters={"modes": ["license"]})
    assert all("license" in m.item["transfer_modes"] for m in licensed)


def test_free_text_search_both_sides(mini_service):
    assert mini_service.matching.search("轴承振动故障预警", "results", top_k=1)[0].item["ref"] == "T-R09"
    assert mini_service.matching.search("低盐榨菜", "needs", top_k=1)[0].item["ref"] == "T-N03"
    with pytest.raises(ValueError, match="empty"):
        mini_service.matching.search(" \x00 ", "results")


def test_add_update_delete_are_visible_at_once(fresh_service):
    s = fresh_service
    r = s.catalogue.add_result({"title": "桥梁拉索磁致伸缩无损检测", "abstract": "利用磁致伸缩导波检测斜拉桥拉索内部断丝。",
                                "industry": "智能装备及智能制造", "maturity": "已有样品"})
    s.catalogue.add_result({"title": "辣椒自动分选设备", "abstract": "基于颜色识别的辣椒分级分选。", "industry": "食品及农产品加工"})
    hits = s.matching.search("斜拉桥拉索断丝检测", top_k=1)
    assert hits[0].id == r["id"]
    s.catalogue.update_listing("results", r["id"], {"title": "花椒烘干设备", "abstract": "花椒低温热泵烘干，保持麻味。"})
    assert s.matching.search("花椒烘干", top_k=1)[0].id == r["id"]
    assert s.catalogue.get_listing("results", r["id"])["title"] == "花椒烘干设备"
    s.catalogue.delete_listing("results", r["id"])
    assert all(m.id != r["id"] for m in s.matching.search("花椒烘干", top_k=5))
    with pytest.raises(NotFound):
        s.catalogue.get_listing("results", r["id"])
    actions = [a["action"] for a in s.store.rows("audit_log")]
    assert actions.count("create") == 2 and "update" in actions and "delete" in actions


def test_an_encoder_failure_rolls_the_write_back(catalogue_copy, failing_encoder):
    s = App(make_settings(catalogue_copy), encoder=failing_encoder)
    before = (s.store.count("results"), s.store.count("audit_log"), s.store.last_change())
    with pytest.raises(RuntimeError, match="encoder failed"):
        s.catalogue.add_listings("results", [{"title": "新成果一", "org": "新成立的研究院"}, {"title": "新成果二"}])
    assert (s.store.count("results"), s.store.count("audit_log"), s.store.last_change()) == before
    assert s.store.find("organisations", name="新成立的研究院") is None  # the organisation rolled back too
    assert len(s.indexes.live.sides["results"].dense) == before[0]
    s.close()


def test_restart_reloads_and_replays_the_log_tail(tmp_path, e5_encoder):
    settings = make_settings(tmp_path / "d")
    s = App(settings, encoder=e5_encoder)
    a = s.catalogue.add_result({"title": "齿轮激光淬火", "abstract": "提高齿面硬度"})
    s.close()
    # a row committed by a process that died before any snapshot: only the change log knows it
    s2 = App(settings, encoder=e5_encoder)
    s2.store.insert("results", {"title": "榨菜发酵工艺", "abstract": "低盐乳酸菌发酵", "industry": "food_agri",
                                "status": "listed", "trl": 5})
    s2.store.close()
    s3 = App(settings, encoder=e5_encoder)
    assert len(s3.indexes.live.sides["results"].dense) == 2
    assert s3.matching.search("榨菜", top_k=1)[0].item["title"] == "榨菜发酵工艺"
    assert s3.matching.search("齿轮", top_k=1)[0].id == a["id"]
    s3.close()


def test_an_index_from_another_encoder_is_refused(tmp_path, e5_encoder):
    from embeddings import get_encoder

    settings = make_settings(tmp_path / "d")
    s = App(settings, encoder=e5_encoder)
    s.catalogue.add_result({"title": "一项成果"})
    s.close()
    other = App(settings, encoder=get_encoder("use"))
    with pytest.raises(IndexMismatch, match="rebuild"):
        other.load()
    assert other.indexes.rebuild() == {"needs": 0, "results": 1}
    assert other.matching.search("成果", top_k=1)


def test_batch_match_stores_candidates_and_keeps_decisions(fresh_service):

    from .conftest import FIXTURES

    s = fresh_service
    s.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    s.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    run = s.batches.run_now(top_k=3)
    assert run["status"] == "done" and run["needs_total"] == 5 and run["candidates"] == 15
    cand = s.store.rows("candidates", order="id")[0]
    s.store.update("candidates", cand["id"], {"status": "rejected"})
    s.batches.run_now(top_k=3)
    assert s.store.get("candidates", cand["id"])["status"] == "rejected"
    assert s.store.count("candidates") == 15


def test_concurrent_writes_and_matching_keep_index_and_store_in_step(fresh_service):
    import threading

    from .conftest import FIXTURES

    s = fresh_service
    s.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    s.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(4):
                s.catalogue.add_result({"title": f"并发写入成果{n}-{i}号", "abstract": f"第{n}组第{i}条测试成果，用于并发。"})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(8):
                assert s.matching.match_need(1, top_k=5)
                s.matching.search("齿轮", top_k=3)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)] + [
        threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    side = s.indexes.live.sides["results"]
    assert sorted(side.dense.ids()) == s.store.ids("results") and len(side.lexical) == 24
    assert s.indexes.live.snapshot(force=True)
    reloaded = App(s.settings, encoder=s.indexes.encoder.inner)
    assert sorted(reloaded.indexes.live.sides["results"].dense.ids()) == s.store.ids("results")
    reloaded.close()


def test_a_write_appends_to_the_change_log_and_saves_no_index_file(fresh_service):
    s = fresh_service
    s.load()
    first = s.store.last_change()
    before = {p: p.stat().st_mtime_ns for p in s.settings.index_dir.rglob("*") if p.is_file()}
    r = s.catalogue.add_result({"title": "榨菜发酵工艺", "abstract": "低盐乳酸菌发酵"})
    s.catalogue.update_listing("results", r["id"], {"title": "榨菜低盐发酵工艺"})
    s.catalogue.delete_listing("results", r["id"])
    log = s.store.changes_since(first)
    assert [(c["side"], c["item_id"], c["op"]) for c in log][-1] == ("results", r["id"], "delete")
    assert {c["op"] for c in log} == {"upsert", "delete"} and s.indexes.applied_seq == log[-1]["seq"]
    after = {p: p.stat().st_mtime_ns for p in s.settings.index_dir.rglob("*") if p.is_file()}
    assert after == before  # the committed log row is the durability: no index file is rewritten per write


def test_a_snapshot_never_replaces_one_that_holds_more(catalogue_copy, e5_encoder):
    settings = make_settings(catalogue_copy)
    behind = App(settings, encoder=e5_encoder)
    ahead = App(settings, encoder=e5_encoder)
    behind.load()
    ahead.catalogue.add_result({"title": "新成果", "abstract": "只有一个进程见过"})
    assert ahead.indexes.live.snapshot()
    seq = ahead.indexes.live.current()["seq"]
    lagging = behind.indexes._live  # (the property would bring it up to date first)
    lagging.applied = seq - 1  # it lags: its snapshot would hold less
    assert not lagging.snapshot(force=True)
    assert lagging.current()["seq"] == seq
    ahead.close()
    behind.close()


def test_changing_a_results_trl_relabels_its_maturity(fresh_service):
    r = fresh_service.catalogue.add_result({"title": "一项成果", "maturity": "通过小试"})
    assert (r["trl"], r["maturity_label"]) == (5, "通过小试")
    r = fresh_service.catalogue.update_listing("results", r["id"], {"trl": 9})
    assert (r["trl"], r["maturity_label"]) == (9, "可以量产")
    r = fresh_service.catalogue.update_listing("results", r["id"], {"title": "一项成果（更新）"})
    assert r["maturity_label"] == "可以量产"


def test_a_corrupt_model_file_is_a_start_up_error_not_a_failure_per_request(catalogue_copy, e5_encoder):
    from matcher.errors import SetupError

    (catalogue_copy / "index" / "calibration.json").write_text("{not json", "utf-8")
    s = App(make_settings(catalogue_copy), encoder=e5_encoder)
    with pytest.raises(SetupError, match="cannot be read"):
        s.load()
    s.close()


def test_an_unknown_default_method_stops_the_start():
    from pydantic import ValidationError

    from matcher.settings import Settings

    with pytest.raises(ValidationError, match="unknown ranking method 'hybird'"):
        Settings(method="hybird")


def test_nothing_is_applied_inside_a_transaction_that_then_rolls_back(catalogue_copy, e5_encoder):
    s = App(make_settings(catalogue_copy), encoder=e5_encoder)
    before = sorted(s.indexes.live.sides["results"].dense.ids())
    with pytest.raises(RuntimeError, match="abandon"), s.store.transaction():
        s.catalogue.add_result({"title": "将被回滚的成果"})
        raise RuntimeError("abandon")
    assert sorted(s.indexes.live.sides["results"].dense.ids()) == before and s.indexes.status()["lag"] == 0
    s.close()


def test_hubness_figures_travel_with_the_snapshot_and_a_server_keeps_them_all(catalogue_copy, e5_encoder):
    """A process that loads a snapshot starts with the writer's hubness figures (the same ones, not recomputed);
    a long-running process computes the rest in the background, and a ranking reads the same figures either way."""
    import time

    import numpy as np

    settings = make_settings(catalogue_copy)
    writer = App(settings, encoder=e5_encoder)
    writer.load()
    side = writer.indexes.live.sides["results"]
    assert side.hubness.refresh(side.dense, side.other, budget=60) == 0
    with side.hubness._lock:
        want = {int(i): float(side.hubness._value[i]) for i in side.dense.ids()}
    writer.catalogue.add_result({"title": "新成果：齿轮热处理", "abstract": "渗碳淬火"})  # the snapshot must hold more
    assert writer.indexes.live.snapshot()
    reader = App(settings, encoder=e5_encoder)
    loaded = reader.indexes.live.sides["results"]
    with loaded.hubness._lock:
        got = {i: float(loaded.hubness._value[i]) for i in want if i < len(loaded.hubness._value)}
    assert got == want  # adopted as written, every one
    new_id = max(loaded.dense.ids())
    assert new_id not in want
    reader.run_background()  # the keeper computes the figure the snapshot could not hold fresh … (the new result's)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and loaded.hubness.refresh(loaded.dense, loaded.other, budget=0) > 0:
        time.sleep(0.2)
    assert loaded.hubness.refresh(loaded.dense, loaded.other, budget=0) == 0
    exact = loaded.hubness._compute(loaded.dense, loaded.other, np.asarray([new_id]))[0]
    assert float(loaded.hubness._value[new_id]) == pytest.approx(float(exact), abs=1e-6)
    need = writer.store.ids("needs")[0]
    a = [(m.id, round(m.components["hubness"], 6)) for m in writer.matching.match_need(need, top_k=5)]
    b = [(m.id, round(m.components["hubness"], 6)) for m in reader.matching.match_need(need, top_k=5)]
    assert a == b
    reader.close()
    writer.close()


def test_posting_a_need_caches_its_query_views_so_its_first_match_only_ranks(fresh_service):
    from matcher.retrieval.documents import query_views

    s = fresh_service
    s.catalogue.add_result({"title": "齿轮激光淬火工艺", "abstract": "提高齿轮表面硬度"})
    row = {"title": "齿轮寿命不足", "description": "希望引入表面淬火技术，提高齿轮疲劳寿命，降低返修率。"}
    views = query_views("needs", row)[0]
    assert len(views) == 2 and s.indexes.encoder.missing("query", views) == views  # nothing encoded yet
    need = s.catalogue.add_need(row)
    assert s.indexes.encoder.missing("query", query_views("needs", need)[0]) == []
    s.catalogue.update_listing("needs", need["id"], {"description": "希望引入激光淬火技术，寿命提升30%。"})
    assert s.indexes.encoder.missing("query", query_views("needs", s.catalogue.get_listing("needs", need["id"]))[0]) == []


def test_hard_filters_are_read_once_per_catalogue_state_and_follow_every_write(catalogue_copy, e5_encoder):
    """The ids passing a hard filter are read from the store once per state of the catalogue: the same answer is
    shared until a write, and a write anywhere (here: a result withdrawn) is in the next answer."""
    from matcher.store import AVAILABLE

    s = App(make_settings(catalogue_copy), encoder=e5_encoder)
    try:
        open_only = {"status": AVAILABLE["results"]}
        need = s.catalogue.find_by_ref("needs", "T-N01")["id"]
        first = s.matching.match_need(need, top_k=3, filters=open_only)[0]
        assert s.matching.matcher.allowed("results", dict(open_only)) is s.matching.matcher.allowed("results", open_only)
        assert first.id in s.matching.matcher.allowed("results", open_only)
        s.catalogue.update_listing("results", first.id, {"status": "withdrawn"})
        assert first.id not in s.matching.matcher.allowed("results", open_only)
        assert first.id not in [m.id for m in s.matching.match_need(need, top_k=3, filters=open_only)]
        assert first.id in [m.id for m in s.matching.match_need(need, top_k=3)]  # unfiltered, it still ranks
    finally:
        s.close()


def test_a_post_prepares_its_text_once_and_its_first_match_reads_no_stored_vector(fresh_service, monkeypatch):
    """A write does its work once: the listing's text is made once by the writer (and once more by the log follower
    that every process runs), one audit line per listing, and the vectors it encoded stay in memory, so the need's
    first match reads none from the embedding cache's table."""
    import matcher.catalogue.live as live
    import matcher.catalogue.service as catalogue_service

    s = fresh_service
    s.catalogue.add_result({"title": "齿轮激光淬火工艺", "abstract": "硬化层深度0.8毫米，疲劳寿命提升35%。"})
    s.load()
    made: list[str] = []
    for module in (live, catalogue_service):
        real = module.document_text
        monkeypatch.setattr(module, "document_text",
                            lambda side, row, _real=real, _m=module.__name__: made.append(_m) or _real(side, row))
    reads: list[int] = []
    table = s.indexes.encoder.table
    real_get = table.get
    monkeypatch.setattr(table, "get", lambda *a: reads.append(len(a[2])) or real_get(*a))
    audits = s.store.count("audit_log")
    need = s.catalogue.add_need({"title": "齿轮淬火变形控制", "description": "希望将淬火变形降低50%。"})
    assert made == ["matcher.catalogue.service", "matcher.catalogue.live"]
    assert s.store.count("audit_log") == audits + 1
    reads.clear()
    assert s.matching.match_need(need["id"], top_k=3)[0].item["title"] == "齿轮激光淬火工艺"
    assert reads == []
