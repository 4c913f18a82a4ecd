"""BM25 index: parity with rank_bm25, in-place updates equal a fresh build, compaction, persistence."""

from __future__ import annotations

import math
import random
import threading
from collections import Counter

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from matcher.retrieval import lexical
from matcher.retrieval.lexical import LexicalIndex

CORPUS = [
    "齿轮激光淬火工艺，提高齿轮表面硬度和齿轮寿命",
    "榨菜低盐发酵工艺及其腌制方法",
    "齿轮箱装配工艺与在线检测系统",
    "锂电池正极材料原子层沉积包覆技术",
    "退役锂电池湿法回收镍钴锰，回收率大于95%",
    "基于机器视觉的PCB板缺陷检测方法",
    "铝合金压铸件真空压铸工艺，减少气孔",
    "火锅底料自动化炒制设备",
    "中药材超声辅助提取与膜分离纯化",
    "OLED面板柔性封装技术",
    "功率芯片陶瓷基板散热设计",
    "工业机器人减速器故障预测与振动信号分析",
    "数控机床热误差补偿，精度达到0.01毫米",
    "柑橘冷链保鲜与货架期延长技术",
    "氢燃料电池双极板精密冲压工艺",
    "光伏组件回收与银浆提取",
    "碳纤维复合材料增材制造快速成型",
    "污水处理设备高分子膜抗污染改性",
    "智能网联汽车边缘计算网关与多传感器融合",
    "茶叶低温发酵工艺，茶叶香气提升",
]

QUERIES = ["齿轮淬火", "锂电池回收", "发酵工艺", "机器视觉检测", "膜分离", "PCB检测", "精密冲压工艺", "冷链保鲜技术",
           "减速器振动", "未知词汇"]


class LogIdfBM25(BM25Okapi):
    """rank_bm25's Okapi scoring with our idf: log1p((N - df + 0.5) / (df + 0.5))."""

    def _calc_idf(self, nd):
        for word, freq in nd.items():
            self.idf[word] = math.log1p((self.corpus_size - freq + 0.5) / (freq + 0.5))


def build(docs: dict[int, str]) -> LexicalIndex:
    lex = LexicalIndex()
    lex.add(list(docs), list(docs.values()))
    return lex


def all_scores(lex: LexicalIndex, query: str, ids) -> dict[int, float]:
    return dict(zip(ids, lex.score_ids(query, ids).tolist()))


def assert_same(lex: LexicalIndex, docs: dict[int, str], probe_ids, queries=QUERIES) -> None:
    """Scores, search results, length and idf equal those of a fresh index over `docs`."""
    fresh = build(docs)
    assert len(lex) == len(fresh) == len(docs)
    for q in queries:
        got, want = lex.score_ids(q, probe_ids), fresh.score_ids(q, probe_ids)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=q)
        s1, i1 = lex.search(q, 1000)
        s2, i2 = fresh.search(q, 1000)
        assert dict(zip(i1.tolist(), s1.tolist())) == pytest.approx(dict(zip(i2.tolist(), s2.tolist())), rel=1e-5)
        assert set(i1.tolist()) <= set(docs)
    for term in {t for text in [*docs.values(), *QUERIES] for t in lex.tokenize(text)}:
        assert lex.idf(term) == pytest.approx(fresh.idf(term), rel=1e-6, abs=1e-9), term


def test_scores_match_rank_bm25_with_our_idf():
    lex = LexicalIndex()
    lex.add(list(range(len(CORPUS))), CORPUS)
    ref = LogIdfBM25([lex.tokenize(d) for d in CORPUS], k1=lex.k1, b=lex.b)
    ids = list(range(len(CORPUS)))
    for q in QUERIES:
        tokens = lex.tokenize(q)
        assert len(set(tokens)) == len(tokens)
        want = ref.get_scores(tokens)
        np.testing.assert_allclose(lex.score_ids(q, ids), want, rtol=1e-4, atol=1e-6, err_msg=q)
        scores, found = lex.search(q, 5)
        assert scores.dtype == np.float32 and found.dtype == np.int64
        best = [i for i in np.argsort(-want, kind="stable") if want[i] > 0][:5]
        np.testing.assert_allclose(scores, want[best], rtol=1e-4)
        assert list(np.diff(scores) <= 0) == [True] * (len(scores) - 1)
    for term in {t for d in CORPUS for t in lex.tokenize(d)}:
        assert lex.idf(term) == pytest.approx(ref.idf[term], rel=1e-6)
    assert lex.idf("不存在") == 0.0
    assert lex.search("未知词汇", 5)[1].tolist() == []


def test_repeated_query_terms_weigh_one_plus_log_count():
    lex = LexicalIndex()
    lex.add(list(range(len(CORPUS))), CORPUS)
    ref = LogIdfBM25([lex.tokenize(d) for d in CORPUS], k1=lex.k1, b=lex.b)
    q = "齿轮齿轮齿轮工艺"  # 齿轮 ×3, 轮齿 ×2, 轮工, 工艺
    want = sum((1 + math.log(c)) * ref.get_scores([t]) for t, c in Counter(lex.tokenize(q)).items())
    np.testing.assert_allclose(lex.score_ids(q, range(len(CORPUS))), want, rtol=1e-4, atol=1e-6)


def test_updates_in_place_equal_a_fresh_index():
    docs = dict(enumerate(CORPUS))
    lex = build(docs)
    lex.compact()
    assert len(lex._delta) == 0 and len(lex._base.ids) == len(CORPUS)
    probe = [*range(len(CORPUS) + 5), 999]
    # add new, replace a base document and a delta document, remove from base and from delta, ignore unknown ids
    lex.add([20, 21, 0], ["齿轮热处理工艺优化", "固态电解质干法电极", "榨菜腌制工艺"])
    docs.update({20: "齿轮热处理工艺优化", 21: "固态电解质干法电极", 0: "榨菜腌制工艺"})
    assert_same(lex, docs, probe)
    lex.add([20], ["锂电池干法电极"])
    docs[20] = "锂电池干法电极"
    lex.remove([3, 21, 777])
    del docs[3], docs[21]
    assert_same(lex, docs, probe)
    assert lex.score_ids("锂电池", [3, 21, 777]).tolist() == [0.0, 0.0, 0.0]
    lex.add([22, 22], ["第一个版本", "最后的版本胜出"])  # a repeated id in one call: the last text wins
    docs[22] = "最后的版本胜出"
    assert_same(lex, docs, probe, [*QUERIES, "版本", "第一个"])
    lex.compact()
    assert len(lex._delta) == 0 and len(lex._base.ids) == len(docs)
    assert_same(lex, docs, probe, [*QUERIES, "版本"])
    # a term whose documents are all gone has idf 0
    lex.remove([22])
    del docs[22]
    assert lex.idf("胜出") == 0.0
    assert_same(lex, docs, probe)


def test_random_updates_across_automatic_compactions(monkeypatch):
    monkeypatch.setattr(lexical, "COMPACT_MIN", 4)
    rng = random.Random(7)
    words = ["齿轮", "淬火", "工艺", "锂电池", "回收", "发酵", "检测", "机器视觉", "PCB", "压铸", "膜分离", "茶叶", "5G"]
    lex, docs = LexicalIndex(), {}
    bases = set()
    for step in range(120):
        if rng.random() < 0.7:
            ids = [rng.randrange(40) for _ in range(rng.randint(1, 4))]
            texts = ["".join(rng.choices(words, k=rng.randint(1, 8))) for _ in ids]
            lex.add(ids, texts)
            docs.update(zip(ids, texts))
        else:
            ids = [rng.randrange(45) for _ in range(rng.randint(1, 3))]
            lex.remove(ids)
            for i in ids:
                docs.pop(i, None)
        bases.add(id(lex._base))
        assert len(lex._delta) + len(lex._base.ids) - lex._n_alive <= max(4, 0.05 * len(lex._base.ids))
        if step % 10 == 9:
            assert_same(lex, docs, list(range(46)), ["齿轮淬火", "锂电池回收工艺", "机器视觉检测PCB", "茶叶发酵", "5g"])
    assert len(bases) > 5  # compacted on its own many times


def test_updates_made_while_a_compaction_builds_are_kept(monkeypatch):
    docs = dict(enumerate(CORPUS))
    lex = build(docs)
    merge = LexicalIndex._merge

    def slow_merge(*args):
        new = merge(*args)
        # another thread's updates land between the copy and the swap
        lex.add([0, 30], ["火锅底料炒制", "新的齿轮淬火技术"])
        lex.remove([1, 5])
        return new

    monkeypatch.setattr(LexicalIndex, "_merge", staticmethod(slow_merge))
    lex.compact()
    monkeypatch.undo()
    docs.update({0: "火锅底料炒制", 30: "新的齿轮淬火技术"})
    del docs[1], docs[5]
    assert set(lex._delta) == {0, 30}
    assert_same(lex, docs, [*range(len(CORPUS)), 30])
    lex.compact()
    assert_same(lex, docs, [*range(len(CORPUS)), 30])


def test_concurrent_queries_and_updates():
    docs = dict(enumerate(CORPUS))
    lex = build(docs)
    errors, stop = [], threading.Event()

    def reader():
        try:
            while not stop.is_set():
                scores, ids = lex.search("齿轮工艺", 10)
                assert (scores > 0).all() and len(set(ids.tolist())) == len(ids)
                lex.score_ids("锂电池回收", list(range(60)))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    rng = random.Random(3)
    for i in range(300):
        item = rng.randrange(60)
        if rng.random() < 0.3:
            lex.remove([item])
            docs.pop(item, None)
        else:
            text = rng.choice(CORPUS) + str(i)
            lex.add([item], [text])
            docs[item] = text
        if i % 50 == 0:
            lex.compact()
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert_same(lex, docs, list(range(60)))


def test_search_respects_allowed_and_never_returns_removed():
    lex = LexicalIndex()
    lex.add(list(range(len(CORPUS))), CORPUS)
    lex.compact()
    lex.add([40], ["齿轮齿轮淬火"])
    lex.remove([0, 2])
    _, ids = lex.search("齿轮淬火工艺", 50)
    assert 0 not in ids and 2 not in ids and 40 in ids
    _, ids = lex.search("齿轮淬火工艺", 50, allowed=[1, 40, 0, 12345])
    assert set(ids.tolist()) == {1, 40}
    assert lex.search("齿轮淬火工艺", 50, allowed=[])[1].tolist() == []
    assert lex.search("齿轮淬火工艺", 0)[1].tolist() == []
    _, top = lex.search("齿轮淬火工艺", 1)
    assert top.tolist() == [40]


def test_ties_keep_index_order():
    lex = LexicalIndex()
    lex.add([5, 3, 9, 1], ["齿轮", "齿轮", "电池", "齿轮"])
    scores, ids = lex.search("齿轮", 2)
    assert ids.tolist() == [5, 3] and scores[0] == scores[1]
    assert lex.search("齿轮", 10)[1].tolist() == [5, 3, 1]


def test_save_and_load_round_trip(tmp_path):
    docs = dict(enumerate(CORPUS))
    lex = build(docs)
    lex.compact()
    lex.add([50], ["一种只出现一次的独特说法"])
    lex.remove([50, 4])  # its terms are held by no document: not written
    lex.add([7], ["火锅底料与榨菜"])
    del docs[4]
    docs[7] = "火锅底料与榨菜"
    path = tmp_path / "results.bm25.npz"
    lex.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["results.bm25.npz"]
    back = LexicalIndex.load(path, tokenizer="bigram")
    assert (back.tokenizer_name, back.k1, back.b, len(back)) == ("bigram", lex.k1, lex.b, len(lex))
    assert "独特" not in back.terms and back.idf("独特") == 0.0
    probe = [*range(len(CORPUS)), 50]
    for q in QUERIES:
        np.testing.assert_array_equal(back.score_ids(q, probe), lex.score_ids(q, probe))
        s1, i1 = back.search(q, 10)
        s2, i2 = lex.search(q, 10)
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(i1, i2)
    assert_same(back, docs, probe)
    # the loaded index keeps updating in place
    back.add([60, 0], ["齿轮淬火新工艺", "锂电池回收"])
    back.remove([1])
    docs.update({60: "齿轮淬火新工艺", 0: "锂电池回收"})
    del docs[1]
    assert_same(back, docs, [*probe, 60])
    # an empty index round-trips too
    LexicalIndex().save(tmp_path / "empty.npz")
    empty = LexicalIndex.load(tmp_path / "empty.npz")
    assert len(empty) == 0 and empty.search("齿轮", 5)[1].tolist() == []


def test_load_refuses_another_tokenizer(tmp_path):
    lex = build(dict(enumerate(CORPUS[:3])))
    path = tmp_path / "needs.bm25.npz"
    lex.save(path)
    with pytest.raises(ValueError, match="tokenizer 'bigram', not 'jieba'"):
        LexicalIndex.load(path, tokenizer="jieba")
    assert len(LexicalIndex.load(path)) == 3


def test_vocabulary_survives_terms_holding_the_separator(tmp_path, monkeypatch):
    monkeypatch.setitem(lexical.TOKENIZERS, "split", str.split)
    lex = LexicalIndex("split")
    lex.add([1, 2], ["a\x00b c", "c d a"])
    lex.save(tmp_path / "x.npz")
    back = LexicalIndex.load(tmp_path / "x.npz", tokenizer="split")
    assert list(back.terms) == list(lex.terms)
    np.testing.assert_array_equal(back.score_ids("a\x00b d", [1, 2]), lex.score_ids("a\x00b d", [1, 2]))


def test_scoring_given_documents_agrees_with_search_in_base_and_delta():
    """score_ids reads the documents' rows, search the terms' postings: the same figures either way."""
    lex = build(dict(enumerate(CORPUS)))
    lex.compact()
    lex.add([100, 101], ["锂电池回收湿法冶金新工艺", "火锅底料低温炒制"])  # in the delta
    lex.remove([2])
    for query in ("锂电池回收", "火锅底料", "机器人视觉检测", "不存在的词语"):
        scores, ids = lex.search(query, 50)
        np.testing.assert_allclose(lex.score_ids(query, ids), scores, rtol=1e-5, err_msg=query)
        assert lex.score_ids(query, [2, 999]).tolist() == [0.0, 0.0]


def exhaustive_top(lex: LexicalIndex, query: str, k: int) -> list[tuple[int, float]]:
    """The k best (id, score) by scoring every document (the path `allowed` takes), ties in index order."""
    everyone = list(lex._base.ids.tolist()) + list(lex._delta)
    scores, ids = lex.search(query, k, allowed=everyone)
    return list(zip(ids.tolist(), scores.tolist()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pruned_search_returns_the_exhaustive_top_k(seed):
    """MaxScore skips the long posting lists of common terms: the top k (scores, order, ties) stays exact."""
    rng = random.Random(seed)
    common = list("的技术方法系统装置工艺")  # in most documents, like the platform's boilerplate
    rare = [f"{a}{b}" for a in "齿轮电池芯片机器视觉检测膜分离" for b in "淬火回收封装识别纯化冲压"]
    def doc() -> str:
        words = rng.sample(common, 6) + rng.choices(rare, weights=[1 / (i + 1) for i in range(len(rare))], k=4)
        rng.shuffle(words)
        return "".join(words)
    docs = {i: doc() for i in range(1, 3001)}
    lex = build(docs)
    lex.compact()
    lex.add(list(range(5000, 5200)), [doc() for _ in range(200)])  # a delta …
    lex.remove(list(range(1, 3001, 7)))  # … and dead base rows
    lex.add([10, 11], ["齿轮淬火齿轮淬火", "技术方法"])  # replaced base rows live in the delta
    pruned = 0
    for _ in range(40):
        query = "".join(rng.sample(common, 3) + rng.sample(rare, 3))
        for k in (1, 10, 200):
            scores, ids = lex.search(query, k)
            want = exhaustive_top(lex, query, k)
            assert [i for i, _ in want] == ids.tolist(), (query, k)
            np.testing.assert_allclose(scores, [s for _, s in want], rtol=1e-6)
        with lex.lock:
            seen, _ = lex._top_candidates(query, 10)
        pruned += len(seen) < len(exhaustive_top(lex, query, 10**6))
    assert pruned >= 20  # and it does skip documents: most queries look at fewer than all that match


def test_public_statistics_leave_hidden_documents_out(tmp_path):
    """Weighed `public`, every score is what an index of the public documents alone gives: hidden documents (a
    confidential need) move no idf and no average length — through additions, replacements, removals, compaction
    and a save and load."""
    docs = dict(enumerate(CORPUS))
    hidden = {1, 4, 9, 12}
    lex = LexicalIndex()
    lex.add(list(docs), list(docs.values()), hidden=hidden)

    def check(index: LexicalIndex) -> None:
        public = {i: t for i, t in docs.items() if i not in hidden}
        alone = build(public)
        ids = sorted(public)
        for q in QUERIES:
            np.testing.assert_allclose(index.score_ids(q, ids, public=True), alone.score_ids(q, ids), rtol=1e-6)
            s1, i1 = index.search(q, 10, allowed=ids, public=True)
            s2, i2 = alone.search(q, 10)
            assert i1.tolist() == i2.tolist()
            np.testing.assert_allclose(s1, s2, rtol=1e-6)
            for term in ("齿轮", "锂电", "膜分"):
                assert index.idf(term, public=True) == pytest.approx(alone.idf(term))
        assert index.size(public=True) == len(public) and index.hidden_ids() == frozenset(hidden & set(docs))

    check(lex)
    assert lex.idf("锂电") != pytest.approx(lex.idf("锂电", public=True))  # doc 4 is hidden: they differ
    lex.compact()
    lex.add([4], ["退役锂电池回收（已公开）"])  # made public
    hidden.discard(4)
    docs[4] = "退役锂电池回收（已公开）"
    lex.add([30, 31], ["锂电池隔膜涂覆", "榨菜发酵"], hidden={30})
    hidden.add(30)
    docs.update({30: "锂电池隔膜涂覆", 31: "榨菜发酵"})
    lex.remove([9, 2])
    hidden.discard(9)
    del docs[9], docs[2]
    check(lex)
    lex.save(tmp_path / "needs.bm25.npz")
    check(LexicalIndex.load(tmp_path / "needs.bm25.npz"))
