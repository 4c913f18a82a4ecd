"""The bundled 4-bit e5 against the float model (stock conversion, or a tuned one) in the same run: single-query
latency on real needs (title view and full-text view) and ingest throughput on real listings, from bdci-dev (read
from ../shared at run time; skipped when absent).

    python -m benchmarks.bench_encoders [--model DIR] [--docs 400]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import SHARED_EVAL, machine, percentiles, shared_benchmark

DEFAULT = SHARED_EVAL / "bdci-dev"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benchmark", type=Path, default=DEFAULT)
    parser.add_argument("--model", type=Path, help="a float model folder (default: the stock conversion)")
    parser.add_argument("--docs", type=int, default=400)
    args = parser.parse_args()
    bench = shared_benchmark(args.benchmark)
    if bench is None:
        sys.exit(0)
    from embeddings import get_encoder
    from embeddings.e5_float import FloatE5Encoder, convert
    from matcher.retrieval.documents import document_text, query_views

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.model
        if folder is None:
            folder = Path(tmp) / "e5-small-f32"
            convert(folder)
        encoders = [get_encoder("e5"), FloatE5Encoder(folder)]
        docs = [document_text("results", d) for d in bench.corpus[:args.docs]]
        views = [query_views("needs", q)[0] for q in bench.queries]
        print(f"machine: {machine()}; {len(views)} needs, {len(docs)} listings of {bench.name}")
        print(f"{'encoder':<28}{'title p50':>10}{'p99':>8}{'full p50':>10}{'p99':>8}{'ingest/s':>10}")
        for enc in encoders:
            enc.encode_queries(["预热"])
            title, full = [], []
            for v in views:
                t0 = time.perf_counter()
                enc.encode_queries(v[:1])
                title.append(time.perf_counter() - t0)
                if len(v) > 1:
                    t0 = time.perf_counter()
                    enc.encode_queries(v[1:])
                    full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            enc.encode_documents(docs)
            rate = len(docs) / (time.perf_counter() - t0)
            (tp50, tp99), (fp50, fp99) = percentiles(title), percentiles(full)
            print(f"{enc.name:<28}{tp50:>10.1f}{tp99:>8.1f}{fp50:>10.1f}{fp99:>8.1f}{rate:>10.1f}")


if __name__ == "__main__":
    main()
