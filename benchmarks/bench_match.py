"""Single-query match latency (p50/p99) at 10k and 100k results against raw FAISS search in the same run (with no
hubness figure computed yet, then with all of them, as a server keeps them), index
memory per 100k items, the load of a catalogue from its snapshot (time, RSS, peak) and, for an approximate index,
its recall@10 against exact search. Catalogues are synthetic (see benchmarks/synthetic.py for how).

    python -m benchmarks.bench_match [--sizes 10000 100000] [--queries 100] [--needs 10000]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from benchmarks.common import machine, peak_mb, percentiles, rss_mb
from benchmarks.synthetic import build_catalogue, make_texts, make_vectors, phrase_vectors


def dense_recall(encoder, found: np.ndarray, queries: np.ndarray, n: int, tol: float = 1e-3) -> float:
    """Recall@10 of the index's results against exact search over the same synthetic vectors (regenerated).

    Synthetic vectors are sums of a few phrases, so many items tie to within 1e-4: a result counts as found when
    its exact score is within `tol` of the exact 10th best (plain recall would punish picking among equals)."""
    _, parts = make_texts(n, 0)
    vectors = make_vectors(parts, phrase_vectors(encoder), 0)
    exact = queries @ vectors.T
    hits = 0
    for row, ids in zip(exact, found):
        tenth = np.partition(row, -10)[-10]
        hits += sum(1 for i in ids if i > 0 and row[i - 1] >= tenth - tol)  # result ids are 1..n in build order
    return hits / (10 * len(found))


def timed(service, needs: list[int], method: str, explain: bool, cold: bool = False) -> tuple[float, float]:
    """p50/p99 ms of matching each need (query embeddings cached); `cold` empties the hubness cache first."""
    times = []
    for i in needs:
        row = service.catalogue.get_listing("needs", i)
        if cold:
            service.indexes.live.sides["results"].hubness.clear()
        t0 = time.perf_counter()
        service.matching.matcher.matches("results", service.matching.matcher.listing_query("needs", row), row, 10,
                                         None, method,
                                         explain=explain)
        times.append(time.perf_counter() - t0)
    return percentiles(times)


def child_load(data_dir: str) -> None:
    """In a fresh process: load the catalogue from its snapshot and print seconds, RSS and peak RSS (MiB)."""
    from embeddings import get_encoder
    from matcher.app import App
    from matcher.settings import get_settings

    encoder = get_encoder("e5")
    encoder.encode_queries(["预热"])
    gc.collect()
    base = rss_mb()
    t0 = time.perf_counter()
    service = App(get_settings().model_copy(update={"data_dir": Path(data_dir)}), encoder=encoder)
    service.load()
    print(json.dumps({"seconds": time.perf_counter() - t0, "rss": rss_mb(), "base": base, "peak": peak_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--needs", type=int, default=10_000, help="needs in the catalogue (hubness looks at them)")
    parser.add_argument("--methods", nargs="+", default=["hybrid", "hybrid-plain", "dense", "lexical", "rrf"])
    parser.add_argument("--child-load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_load:
        child_load(args.child_load)
        return

    from embeddings import get_encoder
    from matcher.app import App
    from matcher.settings import get_settings

    encoder = get_encoder("e5")
    print(f"machine: {machine()}; FAISS threads: 1; encoder {encoder.name}; {args.needs} needs in the catalogue")
    print(f"{'results':>8} {'what':<44}{'p50 ms':>9}{'p99 ms':>9}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            settings = get_settings().model_copy(update={"data_dir": Path(tmp)})
            service = App(settings, encoder=encoder)
            build_s = build_catalogue(service, n, n_needs=max(args.needs, args.queries))
            service.close()
            # the load measured in a fresh process (in this one, memory freed by the build would be reused)
            child = subprocess.run([sys.executable, "-m", "benchmarks.bench_match", "--child-load", str(tmp)],
                                   capture_output=True, text=True, check=True)
            loaded = json.loads(child.stdout.strip().splitlines()[-1])
            load_s, before, after, peak = loaded["seconds"], loaded["base"], loaded["rss"], loaded["peak"]
            service = App(settings, encoder=encoder)
            service.load()
            side = service.indexes.live.sides["results"]
            needs = service.store.ids("needs")[: args.queries]
            # reference: raw FAISS exact search of a query vector, same index, same thread count
            qv = encoder.encode_queries([service.catalogue.get_listing("needs", i)["title"] for i in needs])
            raw = []
            for v in qv:
                t0 = time.perf_counter()
                side.dense.index.search(v[None, :], 10)
                raw.append(time.perf_counter() - t0)
            p50, p99 = percentiles(raw)
            kind = side.dense.effective_kind
            print(f"{n:>8} {'raw FAISS search (k=10), ' + kind:<44}{p50:>9.2f}{p99:>9.2f}")
            recall = dense_recall(encoder, side.dense.search(qv, 10)[1], qv, n)
            print(f"{n:>8} dense recall@10 of the {kind} index against exact search: {recall:.3f}")
            t_enc = []
            for i in needs:
                row = service.catalogue.get_listing("needs", i)
                t0 = time.perf_counter()
                service.matching.matcher.listing_query("needs", row)
                t_enc.append(time.perf_counter() - t0)
            p50, p99 = percentiles(t_enc)
            print(f"{n:>8} {'query encoding (2 views: title, full text)':<44}{p50:>9.2f}{p99:>9.2f}")
            # warm-up: jieba's dictionaries load on first use
            service.matching.match_need(needs[0], top_k=10)
            print(f"{n:>8} (the rows below reuse the cached query embeddings: add the encoding line for a new need)")

            p50, p99 = timed(service, needs, "hybrid", False, cold=True)
            print(f"{n:>8} {'match_need hybrid, no hubness figure computed':<44}{p50:>9.2f}{p99:>9.2f}")
            t0 = time.perf_counter()
            side.hubness.refresh(side.dense, side.other, budget=float("inf"))  # what a server does in the background
            print(f"{n:>8} hubness of every result computed (a server's background thread): "
                  f"{time.perf_counter() - t0:.1f} s")
            for method in args.methods:
                for explain in (False, True):
                    p50, p99 = timed(service, needs, method, explain)
                    label = f"match_need {method}" + (" + explanations" if explain else "")
                    print(f"{n:>8} {label:<44}{p50:>9.2f}{p99:>9.2f}")
            index_bytes = faiss.serialize_index(side.dense.index).nbytes
            lex = side.lexical._matrix
            lex_bytes = lex.data.nbytes + lex.indices.nbytes + lex.indptr.nbytes
            per = 100_000 / n
            print(f"{n:>8} memory: FAISS ({kind}) {index_bytes / 2**20 * per:.1f} MiB and BM25 "
                  f"{lex_bytes / 2**20 * per:.1f} MiB per 100k; load from the snapshot {load_s:.1f} s, process RSS "
                  f"{after:.0f} MiB after it (+{after - before:.0f} MiB, peak {peak:.0f} MiB); build {build_s:.1f} s")
            service.close()
    _ = np


if __name__ == "__main__":
    main()
