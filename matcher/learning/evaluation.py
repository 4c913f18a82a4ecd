"""Evaluation on a relevance-labelled benchmark folder (queries.jsonl, corpus.jsonl, qrels.tsv).

T1 re-ranks each query's judged documents (nDCG@10 with graded gain, MRR, P@1); T2 ranks the whole corpus
(Recall@10, Recall@100, nDCG@10, MRR). "Relevant" means relevance >= 2 (>= 1 where judgements are binary);
only queries with a relevant document count.
Rankings come from `matcher.ranking.rank` and the service's own query/document text builders, so the figures are
those of `techmatch match`.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import CachedEncoder, Encoder, EncoderUnavailable
from matcher.errors import Invalid
from matcher.learning import calibration, cross_encoder
from matcher.learning.adapter import Adapter
from matcher.learning.cross_encoder import CrossEncoder, Unusable
from matcher.learning.learn import Reranker, rerank
from matcher.retrieval.index import VectorIndex
from matcher.retrieval.lexical import LexicalIndex
from matcher.retrieval.ranking import (
    METHODS,
    RERANK_POOL,
    SLACK,
    CatalogueSide,
    Method,
    Query,
    final_order,
    get_method,
    rank,
    shortlist,
)
from matcher.settings import Settings

RELEVANT = 2
METRIC_KEYS = ("t1_ndcg10", "t1_mrr", "t1_p1", "t2_recall10", "t2_recall100", "t2_ndcg10", "t2_mrr")


@dataclass
class Benchmark:
    """Queries, corpus and graded judgements of one benchmark folder."""

    name: str
    queries: list[dict[str, Any]]
    corpus: list[dict[str, Any]]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)
    relevant: int = RELEVANT  # grade from which a document counts as relevant (1 for binary judgements)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _first(*names: str) -> Callable[[dict[str, Any]], str]:
    def get(row: dict[str, Any]) -> str:
        for n in names:
            v = row.get(n)
            if isinstance(v, list):
                v = "，".join(map(str, v))
            if v:
                return str(v)
        return ""
    return get


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    """The catalogue fields a benchmark row may carry beyond its text (a benchmark exported from a catalogue
    does): keywords and application fields join the indexed text, cluster and district the boosts, as in `match`."""
    out: dict[str, Any] = {}
    if isinstance(row.get("keywords"), list):
        out["keywords"] = [str(k) for k in row["keywords"]]
    for key in ("application_fields", "industry", "district", "confidentiality"):
        if isinstance(row.get(key), str) and row[key]:
            out[key] = row[key]
    return out


def load_benchmark(folder: Path | str, queries: str = "queries.jsonl", qrels: str = "qrels.tsv") -> Benchmark:
    """Read a benchmark folder; query rows need id and title/text, corpus rows id and title_text/title/text."""
    folder = Path(folder)
    needed = [folder / queries, folder / "corpus.jsonl", folder / qrels]
    missing = [p.name for p in needed if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a benchmark folder: missing {', '.join(missing)}")
    judged: dict[str, dict[str, int]] = {}
    with (folder / qrels).open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 3 or row[0] == "query_id":
                continue
            try:
                judged.setdefault(row[0], {})[row[1]] = int(float(row[2]))
            except ValueError:
                raise Invalid(f"{qrels}: relevance {row[2]!r} is not a number") from None
    qtitle, qbody = _first("title", "query", "text", "keywords"), _first("content", "text", "description")
    dtitle, dbody = _first("title_text", "title"), _first("abstract", "text", "content", "description")
    qs = [{"id": str(q["id"]), "title": qtitle(q), "description": qbody(q) if qbody(q) != qtitle(q) else "",
           "exclude": set(map(str, q.get("exclude_doc_ids") or [])), **_fields(q)}
          for q in _read_jsonl(folder / queries)]
    docs = [{"id": str(d["id"]), "title": dtitle(d), "abstract": dbody(d) if dbody(d) != dtitle(d) else "",
             **_fields(d)} for d in _read_jsonl(folder / "corpus.jsonl")]
    if not qs or not docs:
        raise Invalid(f"{folder}: no queries or no documents")
    top_grade = max((r for q in judged.values() for r in q.values()), default=0)
    return Benchmark(folder.name, qs, docs, judged, RELEVANT if top_grade >= RELEVANT else 1)


# -- metrics ------------------------------------------------------------------------------
def ndcg_at(ranked: Sequence[str], rels: dict[str, int], k: int = 10) -> float:
    """nDCG@k with gain = relevance and a log2 discount; the ideal ordering uses every judged relevance."""
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def reciprocal_rank(ranked: Sequence[str], rels: dict[str, int], relevant: int = RELEVANT) -> float:
    for i, d in enumerate(ranked):
        if rels.get(d, 0) >= relevant:
            return 1.0 / (i + 1)
    return 0.0


def recall_at(ranked: Sequence[str], rels: dict[str, int], k: int, relevant: int = RELEVANT) -> float:
    found = {d for d, r in rels.items() if r >= relevant}
    return len(found & set(ranked[:k])) / len(found) if found else 0.0


# -- running ------------------------------------------------------------------------------
@dataclass
class Prepared:
    """A benchmark corpus indexed for ranking, plus the query embeddings of one encoder."""

    side: CatalogueSide
    queries: list[Query]


def prepare(bench: Benchmark, encoder: Encoder, lexical: LexicalIndex, adapter: Adapter | None = None) -> Prepared:
    """Encode the corpus and queries with the service's own text builders (queries through the query adapter
    `techmatch tune` installed, as `match` does)."""
    from matcher.retrieval.documents import document_text, query_views

    docs = [document_text("results", d) for d in bench.corpus]
    dense = VectorIndex(encoder.dim, encoder.name)
    dense.build(list(range(len(docs))), encoder.encode_documents(docs))
    # the queries as the catalogue's other side (passages, as the service indexes needs), for hubness
    other = VectorIndex(encoder.dim, encoder.name)
    other.build(list(range(len(bench.queries))),
                encoder.encode_documents([document_text("needs", q) for q in bench.queries]))
    views = [query_views("needs", q) for q in bench.queries]
    flat = [v for vs, _, _ in views for v in vs]
    vectors = encoder.encode_queries(flat)
    if adapter is not None:
        vectors = adapter.apply(vectors)
    out, pos = [], 0
    for vs, weights, lex in views:
        out.append(Query(vectors[pos:pos + len(vs)], lex, weights, vs[0]))
        pos += len(vs)
    side = CatalogueSide("results", dense, lexical, other)
    # a confidential need (a benchmark exported from a catalogue says which) counts for no hubness figure, as live
    hidden = frozenset(i for i, q in enumerate(bench.queries) if q.get("confidentiality") == "brokers")
    side.hubness.hidden = lambda: hidden
    return Prepared(side, out)


def ranking(bench: Benchmark, prepared: Prepared, q: dict[str, Any], query: Query, method: Method,
            model: Reranker | None = None, top_k: int = 100, cross: CrossEncoder | None = None) -> list[str]:
    """The corpus ids `match` would return for a query (T2): the same shortlist, exclusions and boosts."""
    excl = {i for i, d in enumerate(bench.corpus) if d["id"] in q["exclude"]}
    scored = [s for s in shortlist(prepared.side, query, method, top_k, excluded=len(excl)) if s.id not in excl]
    scored = scored[:max(top_k + SLACK, RERANK_POOL if model is not None else 0)]
    if model is not None:
        scored = rerank(scored[:RERANK_POOL], model) + scored[RERANK_POOL:]
    if cross is not None:
        scored = _cross_rerank(bench, q, scored, cross)
    items = {s.id: bench.corpus[s.id] for s in scored}
    return [bench.corpus[s.id]["id"] for s, _, _ in final_order(scored, q, items)][:top_k]


def _cross_rerank(bench: Benchmark, q: dict[str, Any], scored: list[Any], cross: CrossEncoder) -> list[Any]:
    """The first candidates re-ordered by the cross-encoder, as `match` does for method hybrid-ce."""
    from matcher.retrieval.documents import document_text

    listings = [document_text("results", bench.corpus[s.id]) for s in scored[:cross_encoder.DEPTH]]
    return cross_encoder.rerank(scored, [document_text("needs", q)] * len(listings), listings, cross)


def run_method(bench: Benchmark, prepared: Prepared, method: Method, model: Reranker | None = None,
               cross: CrossEncoder | None = None) -> dict[str, float]:
    """T1 and T2 figures of one method, averaged over queries with at least one relevant document.

    With a `model` (method "learned"), the top RERANK_POOL candidates are re-ordered by it, as `match` does; with
    a `cross` encoder (method "hybrid-ce"), the top DEPTH.
    """
    index_of = {d["id"]: i for i, d in enumerate(bench.corpus)}
    sums = dict.fromkeys(METRIC_KEYS, 0.0)
    n = 0
    latencies = []
    for q, query in zip(bench.queries, prepared.queries):
        rels = {d: r for d, r in bench.qrels.get(q["id"], {}).items() if d in index_of and d not in q["exclude"]}
        rel = bench.relevant
        if not any(r >= rel for r in rels.values()):
            continue
        n += 1
        judged = [index_of[d] for d in rels]
        ranked = rank(prepared.side, query, method, len(judged), judged, pool=len(judged))
        if model is not None:
            ranked = rerank(ranked, model)
        if cross is not None:
            ranked = _cross_rerank(bench, q, ranked, cross)
        t1 = [bench.corpus[s.id]["id"] for s in ranked]
        t0 = time.perf_counter()
        t2 = ranking(bench, prepared, q, query, method, model, cross=cross)
        latencies.append(time.perf_counter() - t0)
        sums["t1_ndcg10"] += ndcg_at(t1, rels)
        sums["t1_mrr"] += reciprocal_rank(t1, rels, rel)
        sums["t1_p1"] += float(bool(t1) and rels.get(t1[0], 0) >= rel)
        sums["t2_recall10"] += recall_at(t2, rels, 10, rel)
        sums["t2_recall100"] += recall_at(t2, rels, 100, rel)
        sums["t2_ndcg10"] += ndcg_at(t2, rels)
        sums["t2_mrr"] += reciprocal_rank(t2, rels, rel)
    out = {k: round(v / n, 4) if n else 0.0 for k, v in sums.items()}
    out["queries"] = n
    out["rank_ms_p50"] = round(float(np.median(latencies)) * 1000, 2) if latencies else 0.0
    return out


def corpus_lexical(bench: Benchmark, settings: Settings) -> LexicalIndex:
    """BM25 over the benchmark corpus, with the service's document text and tokenizer."""
    from matcher.retrieval.documents import document_text

    lexical = LexicalIndex(settings.lexical_tokenizer)
    lexical.add(list(range(len(bench.corpus))), [document_text("results", d) for d in bench.corpus])
    return lexical


def calibration_pairs(bench: Benchmark, prepared: Prepared, method: Method | str
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, relevant?, query number) of every judged pair, as `calibration.features` sees them in `match`.

    Each pair is measured against the query's best candidates in the whole corpus, as the service measures it.
    """
    index_of = {d["id"]: i for i, d in enumerate(bench.corpus)}
    method_obj = get_method(method) if isinstance(method, str) else method
    xs, ys, groups = [], [], []
    for n, (q, query) in enumerate(zip(bench.queries, prepared.queries)):
        rels = {index_of[d]: r for d, r in bench.qrels.get(q["id"], {}).items() if d in index_of}
        if not rels:
            continue
        best = calibration.bests(shortlist(prepared.side, query, method_obj, 10))
        judged = rank(prepared.side, query, method, len(rels), list(rels), pool=len(rels))
        xs.append(calibration.features(judged, best))
        ys.extend(int(rels[s.id] >= bench.relevant) for s in judged)
        groups.extend([n] * len(judged))
    if not xs:
        raise Invalid(f"{bench.name}: no judged pairs to calibrate on")
    return np.vstack(xs), np.asarray(ys), np.asarray(groups)


def cached_encoder(name: str, settings: Settings) -> Encoder:
    """The encoder called `name`, behind the data folder's embedding cache (benchmarks re-run cheaply)."""
    return CachedEncoder(settings.make_encoder(name), settings.cache_path)


def calibrate(bench: Benchmark, settings: Settings) -> calibration.Calibration:
    """Fit the 0–1 confidence of the default method and encoder on a benchmark's judged pairs (not saved)."""
    encoder = cached_encoder(settings.encoder, settings)
    prepared = prepare(bench, encoder, corpus_lexical(bench, settings))
    x, y, groups = calibration_pairs(bench, prepared, settings.method)
    return calibration.fit(x, y, groups, encoder.name, bench.name)


def evaluate(bench: Benchmark, settings: Settings, methods: Sequence[str] | None = None,
             encoders: Sequence[str] | None = None, log: Callable[[str], None] | None = None
             ) -> dict[str, dict[str, float]]:
    """Figures of each method; dense-only runs once per encoder, fused methods use the default encoder.

    Returns {"<method>": {t1_ndcg10, ..., t2_mrr}, ..., "default": <figures of the default method>}.
    """
    say = log or (lambda _m: None)
    default = settings.method
    wanted = list(methods or METHODS)
    if default not in wanted:
        wanted.append(default)
    enc_names = list(encoders or [settings.encoder, *(["use"] if settings.encoder != "use" else [])])
    if settings.encoder not in enc_names:
        enc_names.insert(0, settings.encoder)
    lexical = corpus_lexical(bench, settings)
    figures: dict[str, dict[str, float]] = {}
    for enc_name in enc_names:
        try:
            encoder = cached_encoder(enc_name, settings)
        except EncoderUnavailable as exc:
            say(f"skipping encoder {enc_name}: {exc}")
            continue
        t0 = time.perf_counter()
        adapter = Adapter.load(settings.index_dir, encoder.name) if enc_name == settings.encoder else None
        if adapter is not None:
            say(f"{enc_name}: queries through the adapter fitted by `techmatch tune` "
                f"({adapter.trained_on.get('benchmark', '?')}, {adapter.trained_on.get('needs', '?')} needs)")
        prepared = prepare(bench, encoder, lexical, adapter)
        say(f"{enc_name}: encoded {len(bench.corpus)} documents and {len(bench.queries)} queries "
            f"in {time.perf_counter() - t0:.1f}s")
        for name in wanted:
            method = METHODS[name]
            model = cross = None
            if name == "learned":
                model = Reranker.load(settings.index_dir)
                if model is None or enc_name != settings.encoder:
                    if model is None:
                        say("skipping method learned: no model trained on brokers' decisions in the data folder")
                    continue
            if name == "hybrid-ce":
                if enc_name != settings.encoder:
                    continue
                try:
                    cross = CrossEncoder.load(settings.index_dir, settings.make_float_model)
                except Unusable as exc:
                    say(f"skipping method hybrid-ce: {exc}")
                    continue
                if cross is None:
                    say("skipping method hybrid-ce: no cross-encoder in the data folder (`techmatch tune --mode "
                        "cross-encoder`)")
                    continue
            dense_only = set(method.weights) == {"dense"}
            if enc_name != settings.encoder and not dense_only:
                continue
            if set(method.weights) == {"lexical"} and "lexical" in figures:
                continue
            key = f"dense-{enc_name}" if dense_only else name
            figures[key] = run_method(bench, prepared, method, model, cross)
            say(f"{key}: " + ", ".join(f"{k}={v}" for k, v in figures[key].items()))
    if default in figures:
        figures["default"] = figures[default]
    elif f"dense-{settings.encoder}" in figures and set(METHODS[default].weights) == {"dense"}:
        figures["default"] = figures[f"dense-{settings.encoder}"]
    return figures
