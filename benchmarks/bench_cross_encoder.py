"""The cross-encoder reranker (method hybrid-ce) measured as `techmatch tune --mode cross-encoder` measures it:
grouped cross-validation by need on bdci-dev (trained on the other folds, the held-out needs ranked by the code of
`match`), beside the hybrid alone on the same folds, with a learning curve and other weights beside the hybrid;
then the latency of re-ranking a need's top 30 next to the hybrid's own ranking, in the same run. Reads bdci-dev
from ../shared at run time; skipped when absent.

    python -m benchmarks.bench_cross_encoder [--data-dir D] [--sizes 25 50 all] [--betas 0.25 1 2] [--folds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import SHARED_EVAL, machine, percentiles, shared_benchmark

HEADS = (("t1_ndcg10", "T1 nDCG@10"), ("t1_p1", "T1 P@1"), ("t2_recall100", "T2 R@100"), ("t2_ndcg10", "T2 nDCG@10"),
         ("t2_mrr", "T2 MRR"))


def _latency(bench, prepared, settings, model) -> None:
    """Per need: the hybrid's ranking alone, then its top 30 re-ranked (listing states cold, then cached)."""
    from matcher.learning import cross_encoder
    from matcher.learning.evaluation import ranking
    from matcher.retrieval.documents import document_text
    from matcher.retrieval.ranking import get_method, shortlist

    method = get_method(settings.method)
    hybrid, cold, warm = [], [], []
    for q, query in zip(bench.queries, prepared.queries):
        t0 = time.perf_counter()
        ranking(bench, prepared, q, query, method)
        hybrid.append(time.perf_counter() - t0)
        scored = shortlist(prepared.side, query, method, 10)[:cross_encoder.DEPTH]
        listings = [document_text("results", bench.corpus[s.id]) for s in scored]
        needs = [document_text("needs", q)] * len(listings)
        model._states.clear()
        t0 = time.perf_counter()
        cross_encoder.rerank(list(scored), needs, listings, model)
        cold.append(time.perf_counter() - t0)
        model._states.pop((True, needs[0]), None)  # the need is new; its listings were seen before
        t0 = time.perf_counter()
        cross_encoder.rerank(list(scored), needs, listings, model)
        warm.append(time.perf_counter() - t0)
    print(f"\nlatency per need ({len(bench.queries)} needs, ms)        p50      p99")
    for label, xs in (("hybrid ranking (reference)", hybrid), ("re-rank top 30, listings cold", cold),
                      ("re-rank top 30, listings cached", warm)):
        p50, p99 = percentiles(xs)
        print(f"  {label:38s}{p50:8.1f} {p99:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benchmark", type=Path, default=SHARED_EVAL / "bdci-dev")
    parser.add_argument("--data-dir", type=Path, help="a data folder whose embedding cache holds the corpus")
    parser.add_argument("--sizes", nargs="+", default=["all"], help="judged needs trained on per fold, or all")
    parser.add_argument("--betas", nargs="*", type=float, default=[], help="other weights beside the hybrid")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    bench = shared_benchmark(args.benchmark)
    if bench is None:
        sys.exit(0)
    from matcher.learning.evaluation import cached_encoder, corpus_lexical, prepare
    from matcher.learning.tuning import cross_validate_cross_encoder, headline
    from matcher.settings import Settings

    sizes = [None if s == "all" else int(s) for s in args.sizes]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=args.data_dir or Path(tmp))
        prepared = prepare(bench, cached_encoder(settings.encoder, settings), corpus_lexical(bench, settings))
        print(f"{machine()}; {bench.name}: {len(bench.queries)} needs, {len(bench.corpus)} listings, "
              f"{args.folds}-fold CV grouped by need; hybrid on {settings.encoder}, top 30 re-ranked")
        started = time.perf_counter()
        report, model = cross_validate_cross_encoder(
            bench, prepared, settings, args.folds, sizes=sizes, betas=args.betas,
            say=lambda m: print("  " + m, file=sys.stderr, flush=True))
        print(f"{'re-ranked by':28s}{'needs':>6s}" + "".join(f"{h:>12s}" for _, h in HEADS)
              + f"{'gain':>9s}{'CPU s/fold':>11s}")
        base = report["without"]
        print(f"{'none (' + report['method'] + ')':28s}{'':>6s}" + "".join(f"{base[k]:12.3f}" for k, _ in HEADS))
        for label, figures in report["with"].items():
            gain = headline(figures) - headline(base)
            name = "cross-encoder" + (f", {label.split(' ', 1)[1]}" if " " in label else "")
            print(f"{name:28s}{figures['train_needs']:6.0f}" + "".join(f"{figures[k]:12.3f}" for k, _ in HEADS)
                  + f"{gain:+9.4f}{figures['fit_cpu_s']:11.1f}")
        print(f"(whole cross-validation: {time.perf_counter() - started:.0f} s wall)")
        _latency(bench, prepared, settings, model)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")


if __name__ == "__main__":
    main()
