"""BM25, fusion and ranking on small hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.retrieval import fusion
from matcher.retrieval.index import VectorIndex
from matcher.retrieval.lexical import LexicalIndex
from matcher.retrieval.ranking import CatalogueSide, Query, get_method, rank
from matcher.retrieval.text import char_bigrams, jieba_words, sentences


def test_tokenizers():
    assert char_bigrams("锂电池PCB板") == ["锂电", "电池", "板", "pcb"]
    assert "锂电池" in jieba_words("一种锂电池回收方法")
    assert sentences("第一句。第二句！第三句") == ["第一句。", "第二句！", "第三句"]


def test_bm25_prefers_rare_shared_terms_and_updates_incrementally():
    lex = LexicalIndex()
    lex.add([1, 2, 3], ["齿轮激光淬火工艺", "榨菜低盐发酵工艺", "齿轮箱装配工艺"])
    _, ids = lex.search("齿轮淬火", 3)
    assert ids.tolist()[0] == 1 and len(ids) == 2
    assert lex.idf("工艺") < lex.idf("榨菜")
    lex.remove([1])
    assert lex.search("齿轮淬火", 3)[1].tolist() == [3]
    lex.add([3], ["榨菜"])
    assert lex.search("齿轮", 3)[1].tolist() == []
    assert lex.score_ids("榨菜", [2, 3, 42]).tolist()[2] == 0.0


def test_minmax_and_weighted_fusion():
    assert fusion.minmax({1: 2.0, 2: 4.0}) == {1: 0.0, 2: 1.0}
    assert fusion.minmax({1: 3.0}) == {1: 1.0}
    fused = fusion.weighted({"dense": {1: 0.9, 2: 0.5}, "lexical": {1: 0.0, 2: 10.0}},
                            {"dense": 0.75, "lexical": 0.25})
    assert fused == pytest.approx({1: 0.75, 2: 0.25})


def test_rrf_rewards_agreement():
    fused = fusion.rrf({"a": {1: 3, 2: 2, 3: 1}, "b": {2: 5, 1: 1, 3: 0}}, k=60)
    assert max(fused, key=fused.get) in (1, 2) and fused[3] < fused[2]


def _side() -> CatalogueSide:
    vecs = np.eye(4, dtype=np.float32)
    dense = VectorIndex(4, "toy")
    dense.add([1, 2, 3, 4], vecs)
    lex = LexicalIndex()
    lex.add([1, 2, 3, 4], ["齿轮淬火", "电池回收", "榨菜发酵", "齿轮检测"])
    return CatalogueSide("results", dense, lex)


def test_rank_fuses_and_reports_components():
    side = _side()
    q = Query(np.array([[0.0, 0.0, 0.0, 1.0]], dtype=np.float32), "齿轮淬火")
    dense = rank(side, q, "dense", 2)
    assert dense[0].id == 4
    lexical = rank(side, q, "lexical", 2)
    assert lexical[0].id == 1
    hybrid = rank(side, q, "hybrid", 4)
    assert {s.id for s in hybrid[:2]} == {1, 4}
    assert set(hybrid[0].components) == {"dense", "lexical", "hubness"}
    assert hybrid[0].components["hubness"] == 0.0  # no other side known: nothing to correct
    # every pooled candidate has its exact score in both components
    by_id = {s.id: s for s in hybrid}
    assert by_id[1].components["dense"] == pytest.approx(0.0) and by_id[4].components["lexical"] > 0


def test_rank_respects_allowed_ids_and_unknown_methods():
    side = _side()
    q = Query(np.array([[1.0, 0, 0, 0]], dtype=np.float32), "齿轮")
    assert [s.id for s in rank(side, q, "hybrid", 5, allowed=[2, 3])] in ([2, 3], [3, 2])
    assert rank(side, q, "hybrid", 5, allowed=[]) == []
    with pytest.raises(ValueError, match="unknown method"):
        get_method("magic")


def _unit(rows: list[list[float]]) -> np.ndarray:
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_hubness_demotes_a_result_that_is_close_to_every_need():
    # result 1 is generic: a little close to every need; result 2 is specific to the query's topic
    results = VectorIndex(3, "toy")
    results.add([1, 2], _unit([[1, 1, 1], [1, 0, 0.2]]))
    needs = VectorIndex(3, "toy")
    needs.add([10, 11, 12], _unit([[0, 1, 0], [0, 0, 1], [0, 1, 1]]))
    lex = LexicalIndex()
    lex.add([1, 2], ["通用系统", "专用方法"])
    side = CatalogueSide("results", results, lex, needs)
    q = Query(_unit([[1, 0.7, 0.5]]), "无关")
    plain = rank(side, q, "hybrid-plain", 2)
    corrected = rank(side, q, "hybrid", 2)
    assert [s.id for s in plain] == [1, 2]
    assert [s.id for s in corrected] == [2, 1]
    hub = {s.id: s.components["hubness"] for s in corrected}
    assert hub[1] > hub[2] > 0
    # the cached figures follow the other side: a need right on result 2 makes it the hub
    needs.add([13, 14, 15], _unit([[1, 0, 0.2]] * 3))
    again = {s.id: s.components["hubness"] for s in rank(side, q, "hybrid", 2)}
    assert again[2] > hub[2]


def test_hubness_is_the_same_from_the_flat_block_product_and_from_an_ivf_search():
    from matcher.retrieval.hubness import Hubness

    rng = np.random.default_rng(3)
    needs_vecs = _unit(rng.normal(size=(1200, 8)).tolist())
    results = VectorIndex(8, "toy")
    results.add(list(range(20)), _unit(rng.normal(size=(20, 8)).tolist()))
    flat = VectorIndex(8, "toy")
    flat.add(list(range(1200)), needs_vecs)
    ivf = VectorIndex(8, "toy", kind="ivf", nprobe=10_000)
    ivf.build(list(range(1200)), needs_vecs)
    assert flat.scores_all(needs_vecs[:2]).shape == (2, 1200) and ivf.scores_all(needs_vecs[:2]) is None
    by_block = Hubness(k=10).of(results, flat, list(range(20)))
    by_search = Hubness(k=10).of(results, ivf, list(range(20)))
    brute = np.sort(results.vectors(list(range(20))) @ needs_vecs.T, axis=1)[:, -10:].mean(axis=1)
    assert np.allclose([by_block[i] for i in range(20)], brute, atol=1e-5)
    assert np.allclose([by_search[i] for i in range(20)], brute, atol=1e-5)


def test_hidden_listings_of_the_other_side_count_for_no_hubness_figure():
    """A result's hubness shapes rankings every caller sees: the confidential needs near it do not move it, on the
    flat block product and on an IVF search alike."""
    from matcher.retrieval.hubness import Hubness

    rng = np.random.default_rng(5)
    public = _unit(rng.normal(size=(300, 8)).tolist())
    results = VectorIndex(8, "toy")
    results.add(list(range(10)), _unit(rng.normal(size=(10, 8)).tolist()))
    near = results.vectors(list(range(10))) + 0.01  # hidden needs right on top of every result
    for kind in ("flat", "ivf"):
        alone, mixed = VectorIndex(8, "toy", kind=kind, nprobe=10_000), VectorIndex(8, "toy", kind=kind, nprobe=10_000)
        alone.build(list(range(300)), public)
        mixed.build(list(range(310)), np.vstack([public, _unit(near.tolist())]))
        hidden = frozenset(range(300, 310))
        expected = Hubness(k=10).of(results, alone, list(range(10)))
        assert Hubness(k=10, hidden=lambda h=hidden: h).of(results, mixed, list(range(10))) == pytest.approx(expected)
        assert Hubness(k=10).of(results, mixed, list(range(10)))[0] > expected[0] + 0.01  # counted, they would move it


def test_catalogue_terms_fix_explanation_words_but_never_bm25_tokens(monkeypatch):
    from matcher.retrieval import text as text_mod
    from matcher.retrieval.text import content_words, learn_terms

    # a tagger of its own: catalogues loaded earlier in this process (the demo's 车规MCU) taught the shared one
    fresh = text_mod._explain_tagger.__wrapped__()
    monkeypatch.setattr(text_mod, "_explain_tagger", lambda: fresh)
    text_mod._content_words.cache_clear()  # words remembered from the shared tagger are not this one's

    text = "算法可在32位车规MCU上运行"
    tokens = jieba_words(text)
    assert "位车" in content_words(text)  # jieba's own dictionary cuts 32位车|规
    assert learn_terms(["车规", "车规", "MCU", "车"]) == 1  # Chinese terms of 2–12 characters, once
    assert "车规" in content_words(text) and "位车" not in content_words(text)
    assert jieba_words(text) == tokens


def _hub_setup(n_needs: int = 400, seed: int = 5):
    from matcher.retrieval.hubness import Hubness

    rng = np.random.default_rng(seed)
    results = VectorIndex(8, "toy")
    results.add(list(range(1, 201)), _unit(rng.normal(size=(200, 8)).tolist()))
    needs = VectorIndex(8, "toy")
    needs.add(list(range(1, n_needs + 1)), _unit(rng.normal(size=(n_needs, 8)).tolist()))
    return Hubness(k=10), results, needs, rng


def _exact(results, needs, ids, k=10):
    all_needs = needs.vectors(needs.ids())
    return np.sort(results.vectors(ids) @ all_needs.T, axis=1)[:, -k:].mean(axis=1)


def test_hubness_figures_outlive_small_drift_but_not_a_change_of_the_item_or_large_drift():
    hub, results, needs, rng = _hub_setup()
    ids = list(range(1, 201))
    first = hub.of(results, needs, ids)
    assert np.allclose([first[i] for i in ids], _exact(results, needs, ids), atol=1e-6)
    assert hub.tolerance(needs) == 4  # 1 % of 400 needs
    needs.add([1001, 1002], _unit([results.vectors([7])[0].tolist()] * 2))  # two needs right on result 7
    kept = hub.of(results, needs, ids)
    assert kept == first  # within the drift: the figures stay (result 7 is slightly low until refreshed)
    results.add([9], _unit([[1, 0, 0, 0, 0, 0, 0, 0]]))  # result 9 itself changed: its figure is recomputed
    assert hub.of(results, needs, [9])[9] == pytest.approx(_exact(results, needs, [9])[0], abs=1e-6)
    needs.add(list(range(2000, 2003)), _unit(rng.normal(size=(3, 8)).tolist()))  # 5 changes > 4: all recomputed
    again = hub.of(results, needs, ids)
    assert np.allclose([again[i] for i in ids], _exact(results, needs, ids), atol=1e-6)
    assert again[7] > first[7]


def test_hubness_refresh_computes_every_missing_or_stale_figure_in_the_background():
    hub, results, needs, _ = _hub_setup()
    assert hub.refresh(results, needs, budget=0) == 200  # no time given: nothing done, all 200 left
    assert hub.refresh(results, needs, budget=10) == 0
    with hub._lock:
        cached = hub._value[1:201].copy()
    assert np.allclose(cached, _exact(results, needs, list(range(1, 201))), atol=1e-6)
    assert hub.refresh(results, needs) == 0  # nothing changed: nothing to do
    results.add([5], _unit([[0, 1, 0, 0, 0, 0, 0, 0]]))
    with hub._lock:
        old = float(hub._value[5])
    assert hub.refresh(results, needs) == 0
    with hub._lock:
        assert float(hub._value[5]) != old
        assert float(hub._value[5]) == pytest.approx(_exact(results, needs, [5])[0], abs=1e-6)


def test_hubness_is_exact_after_every_change_when_the_other_side_is_small():
    hub, results, needs, _ = _hub_setup(n_needs=60)
    assert hub.tolerance(needs) == 0
    hub.of(results, needs, [3])
    needs.add([999], _unit([results.vectors([3])[0].tolist()]))
    assert hub.of(results, needs, [3])[3] == pytest.approx(_exact(results, needs, [3])[0], abs=1e-6)


def test_logodds_fusion_is_a_weighted_sum_of_per_query_z_scores():
    from matcher.retrieval import fusion

    dense = {1: 0.9, 2: 0.8, 3: 0.7}
    lexical = {1: 1.0, 3: 30.0}  # 2 missing: it gets lexical's lowest score
    got = fusion.logodds({"dense": dense, "lexical": lexical}, {"dense": 0.75, "lexical": 0.25})
    z = lambda v, xs: (v - np.mean(xs)) / np.std(xs)  # noqa: E731
    want = {i: 0.75 * z(dense[i], list(dense.values())) + 0.25 * z(lexical.get(i, 1.0), list(lexical.values()))
            for i in dense}
    assert got == pytest.approx(want)
    # the scale of a component does not matter, only its shape over the pool
    scaled = fusion.logodds({"dense": dense, "lexical": {k: 100 * v for k, v in lexical.items()}},
                            {"dense": 0.75, "lexical": 0.25})
    assert scaled == pytest.approx(got)


def test_title_only_methods_query_with_the_title_alone():
    results = VectorIndex(3, "toy")
    results.add([1, 2], _unit([[1, 0, 0], [0, 1, 0]]))
    lex = LexicalIndex()
    lex.add([1, 2], ["齿轮淬火", "电池回收"])
    side = CatalogueSide("results", results, lex)
    # the title points at result 1, the full-text view (weighted heavily) at result 2
    q = Query(_unit([[1, 0, 0], [0, 1, 0]]), "齿轮。齿轮。电池回收电池回收", [1.0, 5.0], "齿轮")
    assert rank(side, q, "hybrid", 1)[0].id == 2
    assert rank(side, q, "hybrid-title", 1)[0].id == 1


def test_single_character_tokens():
    from matcher.retrieval.text import TOKENIZERS

    assert TOKENIZERS["char"]("齿轮PCB检测") == ["齿", "轮", "检", "测", "pcb"]


def test_hubness_refresh_after_the_first_sweep_looks_only_at_what_changed(monkeypatch):
    """A large side is swept once; later refreshes take the items changed since and the figures the other side's
    drift made stale, without listing every id of the side again."""
    hub, results, needs, rng = _hub_setup()
    assert hub.refresh(results, needs, budget=10) == 0

    def no_listing():
        raise AssertionError("refresh listed every id again")

    monkeypatch.setattr(results, "ids", no_listing)
    results.add([500], _unit(rng.normal(size=(1, 8)).tolist()))  # a new item …
    results.remove([3])  # … and a removed one
    assert hub.refresh(results, needs, budget=10) == 0
    with hub._lock:
        assert float(hub._value[500]) == pytest.approx(_exact(results, needs, [500])[0], abs=1e-6)
        assert np.isnan(hub._value[3])  # no figure for an item the index no longer holds
    needs.add(list(range(3000, 3005)), _unit(rng.normal(size=(5, 8)).tolist()))  # 5 > 4: every figure is stale
    assert hub.refresh(results, needs, budget=10) == 0
    with hub._lock:
        live = [i for i in range(1, 201) if i != 3]
        assert np.allclose(hub._value[live], _exact(results, needs, live), atol=1e-6)


def test_settings_know_every_ranking_method_by_name():
    """Settings validate TECHMATCH_METHOD against their own list of names (they sit below retrieval): it is the
    ranking module's list."""
    from matcher.retrieval.ranking import METHODS
    from matcher.settings import METHOD_NAMES

    assert tuple(METHODS) == METHOD_NAMES
