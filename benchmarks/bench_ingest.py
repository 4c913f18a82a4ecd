"""Ingest throughput: items/s through the service (validate, store, encode, index, save) against the raw
encoder's throughput on the same texts, measured in the same run.

    python -m benchmarks.bench_ingest [--n 400]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine
from benchmarks.synthetic import make_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--encoder", default="e5")
    args = parser.parse_args()

    from embeddings import get_encoder
    from matcher.app import App
    from matcher.retrieval.documents import document_text
    from matcher.settings import get_settings

    rows, _ = make_texts(args.n, seed=7)
    items = [{"title": r["title"], "abstract": r["abstract"], "industry": r["industry"], "trl": r["trl"],
              "keywords": r["keywords"], "transfer_modes": r["transfer_modes"]} for r in rows]
    encoder = get_encoder(args.encoder)
    texts = [document_text("results", r) for r in rows]
    encoder.encode_documents(texts[:8])  # warm up
    t0 = time.perf_counter()
    encoder.encode_documents(texts)
    raw = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        service = App(get_settings().model_copy(update={"data_dir": Path(tmp)}), encoder=encoder)
        service.load()
        t0 = time.perf_counter()
        service.catalogue.add_listings("results", items)
        cold = time.perf_counter() - t0
        service.indexes.rebuild()  # all texts now in the embedding cache
        t0 = time.perf_counter()
        service.indexes.rebuild()
        warm = time.perf_counter() - t0
        single = []
        for r in items[:20]:
            t0 = time.perf_counter()
            service.catalogue.add_result({**r, "title": r["title"] + "（单条）"})
            single.append(time.perf_counter() - t0)
        service.close()

    print(f"machine: {machine()}")
    print(f"encoder: {encoder.name}, {args.n} synthetic results (~{sum(map(len, texts)) // args.n} chars each)")
    print(f"{'what':<46}{'items/s':>10}{'vs raw':>9}")
    print(f"{'raw encoder (encode_documents)':<46}{args.n / raw:>10.1f}{1.0:>9.2f}")
    print(f"{'service import (validate+store+encode+index)':<46}{args.n / cold:>10.1f}{raw / cold:>9.2f}")
    print(f"{'rebuild from store + snapshot, cached vectors':<46}{args.n / warm:>10.1f}{raw / warm:>9.2f}")
    print(f"{'single add_result (commit + log + apply)':<46}{len(single) / sum(single):>10.1f}"
          f"{(raw / args.n) / (sum(single) / len(single)):>9.2f}")


if __name__ == "__main__":
    main()
