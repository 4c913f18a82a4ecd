"""One catalogue, many processes, at 100k results: what following the store's change log costs.

Measured in one run, each against its reference:
- a write then the first query (another process's write, applied from the log before ranking) vs the same query
  with nothing to apply;
- cold start (latest snapshot + log tail) vs a full rebuild from the store (vectors from the embedding cache);
- catching up 1,000 log rows vs that full rebuild.
Vectors of synthetic listings are put into the embedding cache beforehand, so no figure includes encoding
(e5-small encodes one new listing in ~40 ms on 2 cores; see bench_match).

    python -m benchmarks.bench_sync [--results 100000] [--writes 30] [--catch-up 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, percentiles, rss_mb
from benchmarks.synthetic import build_catalogue, synthetic_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--needs", type=int, default=1_000)
    parser.add_argument("--writes", type=int, default=30)
    parser.add_argument("--catch-up", type=int, default=1_000)
    parser.add_argument("--database-url", default=None,
                        help="an empty PostgreSQL database to measure instead of the SQLite file")
    args = parser.parse_args()

    from embeddings import get_encoder
    from matcher.app import App
    from matcher.catalogue import LiveCatalogue
    from matcher.settings import get_settings

    encoder = get_encoder("e5")
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(f"machine: {machine()}; {args.results} results, {args.needs} needs (synthetic); store: {store}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings().model_copy(update={"data_dir": Path(tmp), "database_url": args.database_url})
        writer = App(settings, encoder=encoder)
        t0 = time.perf_counter()
        build_catalogue(writer, args.results, n_needs=args.needs)
        writer.close()  # leaves a snapshot
        print(f"build (store rows, cached vectors, first index, snapshot): {time.perf_counter() - t0:.1f} s")

        # cold start: snapshot + tail, against a full rebuild from the store in the same run
        before = rss_mb()
        reader = App(settings, encoder=encoder)
        t0 = time.perf_counter()
        reader.load()
        cold = time.perf_counter() - t0
        print(f"cold start (snapshot + log tail):            {cold:8.2f} s   RSS +{rss_mb() - before:.0f} MiB")
        rebuild = LiveCatalogue(reader.store, reader.indexes.encoder, settings)
        t0 = time.perf_counter()
        rebuild._build(None)
        full = time.perf_counter() - t0
        print(f"reference: full rebuild from the store:      {full:8.2f} s")
        del rebuild

        writer = App(settings, encoder=encoder)
        writer.load()  # the writing process is up before the clock starts
        need = writer.store.ids("needs")[0]
        new = synthetic_results(writer, args.writes, seed=11)
        for method in ("lexical", "hybrid"):
            reader.matching.match_need(need, top_k=10, method=method)  # warm: query embedding cached, jieba loaded
            base, after_write, writes = [], [], []
            for i, row in enumerate(new if method == "hybrid" else synthetic_results(writer, args.writes, 12)):
                t0 = time.perf_counter()
                reader.matching.match_need(need, top_k=10, method=method)
                base.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                writer.catalogue.add_result(row)  # another process (its own store connection and indexes) writes
                writes.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                reader.matching.match_need(need, top_k=10, method=method)  # applies the log row, then ranks
                after_write.append(time.perf_counter() - t0)
                if i == 0:
                    assert reader.indexes.status()["lag"] == 0
            w50, w99 = percentiles(writes)
            b50, b99 = percentiles(base)
            a50, a99 = percentiles(after_write)
            print(f"{method:>7}: write (commit + log, vector cached)  p50 {w50:7.1f} ms  p99 {w99:7.1f} ms")
            print(f"{method:>7}: first query after another's write p50 {a50:7.1f} ms  p99 {a99:7.1f} ms")
            print(f"{method:>7}: reference, same query, no write   p50 {b50:7.1f} ms  p99 {b99:7.1f} ms")

        rows = synthetic_results(writer, args.catch_up, seed=13)
        writer.catalogue.add_listings("results", rows)
        behind = reader.indexes.status()["lag"]
        t0 = time.perf_counter()
        applied = reader.indexes._live.sync()
        catch = time.perf_counter() - t0
        print(f"catch-up of {applied} log rows ({behind} behind):   {catch:8.2f} s   vs full rebuild {full:.2f} s "
              f"({full / max(catch, 1e-9):.0f}x)")
        t0 = time.perf_counter()
        wrote = reader.indexes._live.snapshot()
        print(f"background snapshot at {args.results + args.catch_up + 2 * args.writes} results: "
              f"{time.perf_counter() - t0:.2f} s (written: {wrote})")
        writer.close()
        reader.close()


if __name__ == "__main__":
    main()
