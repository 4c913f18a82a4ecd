"""A new need, end to end, on real needs: bdci-dev's needs (real length: titles and full descriptions) posted one at
a time into a catalogue of its corpus, each matched right after it is posted (hybrid, top 10, with explanations).

Posting a need encodes its query views (title, full text) into the embedding cache along with its passage vector,
so the match that follows only ranks. Reference in the same run: the same match on a cold embedding cache, i.e. the
encoding of both views inside the match, which is what a match cost before. Read from ../shared at run time;
skipped when absent.

    python -m benchmarks.bench_needs [--benchmark ../shared/eval/bdci-dev] [--queries 117]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import SHARED_EVAL, machine, percentiles, shared_benchmark

DEFAULT = SHARED_EVAL / "bdci-dev"


def _need_row(q: dict) -> dict:
    return {"title": q["title"][:200] or "（无题）", "description": q["description"]}


def _forget_needs(cache: Path, encoder: str, needs: list[dict]) -> None:
    """Drop the needs' vectors (passage and query views) from a copied cache: posting them must encode them."""
    import sqlite3

    from embeddings.cache import CachedEncoder
    from matcher.ingest.schemas import NeedIn
    from matcher.retrieval.documents import document_text, query_views

    rows = [NeedIn.model_validate(_need_row(q)).model_dump() for q in needs]
    gone = [("document", document_text("needs", r)) for r in rows]
    gone += [("query", v) for r in rows for v in query_views("needs", r)[0]]
    conn = sqlite3.connect(str(cache))
    with conn:
        conn.executemany("delete from embeddings where encoder=? and role=? and hash=?",
                         [(encoder, role, CachedEncoder._hash(text)) for role, text in gone])
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benchmark", type=Path, default=DEFAULT)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    bench = shared_benchmark(args.benchmark)
    if bench is None:
        sys.exit(0)

    from embeddings import get_encoder
    from matcher.app import App
    from matcher.retrieval.documents import query_views
    from matcher.settings import get_settings

    encoder = get_encoder("e5")
    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings().model_copy(update={"data_dir": Path(tmp)})
        cached = get_settings().cache_path  # reuse the corpus vectors an earlier `techmatch eval` cached, if any …
        if isinstance(cached, Path) and cached.exists():
            shutil.copy(cached, settings.cache_path)
            _forget_needs(settings.cache_path, encoder.name, bench.queries[:args.queries])  # … never the needs'
        service = App(settings, encoder=encoder)
        t0 = time.perf_counter()
        service.catalogue.add_listings("results", [{"title": d["title"][:200] or "（无题）",
                                                       "abstract": d["abstract"],
                                          **{k: d[k] for k in ("keywords",) if k in d}} for d in bench.corpus])
        print(f"machine: {machine()}; encoder {encoder.name}; {len(bench.corpus)} results from {bench.name} "
              f"(loaded in {time.perf_counter() - t0:.1f} s)")
        needs = bench.queries[:args.queries]
        chars = sorted(len(q["title"]) + len(q["description"]) for q in needs)
        print(f"{len(needs)} needs, median {chars[len(chars) // 2]} characters (title + description)")
        warm = service.catalogue.add_need({"title": "预热需求",
                                           "description": "加载分词词典"})  # jieba loads on first use
        service.matching.match_need(warm["id"], top_k=10)
        post, match, views = [], [], []
        for q in needs:
            t0 = time.perf_counter()
            need = service.catalogue.add_need(_need_row(q))
            post.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            service.matching.match_need(need["id"], top_k=10)
            match.append(time.perf_counter() - t0)
            texts = query_views("needs", service.catalogue.get_listing("needs", need["id"]))[0]
            t0 = time.perf_counter()
            encoder.encode_queries(texts)  # the bare encoder, no cache: what a match without cached views adds
            views.append(time.perf_counter() - t0)
        cold = [m + v for m, v in zip(match, views)]
        print(f"{'what':<62}{'p50 ms':>9}{'p99 ms':>9}")
        for label, values in (("post a need (validate, encode passage + query views, commit)", post),
                              ("match it right after (hybrid, top 10, explanations)", match),
                              ("  reference: encoding the two views (title, full text)", views),
                              ("  reference: the match encoding its views itself", cold)):
            p50, p99 = percentiles(values)
            print(f"{label:<62}{p50:>9.1f}{p99:>9.1f}")
        service.close()


if __name__ == "__main__":
    main()
