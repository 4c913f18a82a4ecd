"""Bulk work on Ray against the in-process path, on this machine, in the same run: encoding throughput with 1 and 2
Ray workers, the overhead Ray adds per item and per job, a batch run's ranking, and (on paper) the hours to encode
5 million results on N workers.

    python -m benchmarks.bench_ray [--n 512] [--needs 60] [--results 3000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine
from benchmarks.synthetic import build_catalogue, make_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=512, help="texts to encode per path")
    parser.add_argument("--needs", type=int, default=60, help="open needs in the batch-run comparison")
    parser.add_argument("--results", type=int, default=3000, help="results in the batch-run comparison")
    args = parser.parse_args()

    import ray

    from embeddings import CachedEncoder, get_encoder
    from matcher.app import App
    from matcher.bulk import get_engine
    from matcher.retrieval.documents import document_text
    from matcher.settings import get_settings

    rows, _ = make_texts(args.n * 3, seed=11)
    texts = [document_text("results", r) for r in rows]
    sets = [texts[i * args.n:(i + 1) * args.n] for i in range(3)]  # fresh texts per path: nothing cached
    base = get_settings()
    print(f"machine: {machine()}")
    print(f"{args.n} synthetic results per path (~{sum(map(len, texts)) // len(texts)} chars each), encoder e5")

    with tempfile.TemporaryDirectory() as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp) / "data"})
        settings.data_dir.mkdir(parents=True)
        inner = get_encoder("e5")
        inner.encode_documents(texts[:8])  # warm up
        local = CachedEncoder(inner, settings.cache_path)
        t0 = time.perf_counter()
        local.encode_documents(sets[0])
        t_local = time.perf_counter() - t0

        rates: dict[int, tuple[float, float]] = {}
        for i, workers in enumerate((1, 2), start=1):
            engine = get_engine("ray", workers=workers)
            engine = type(engine)(workers=workers, chunk=64, threads=max(1, (os.cpu_count() or 2) // workers))
            t0 = time.perf_counter()
            engine.connect()
            t_init = time.perf_counter() - t0
            t0 = time.perf_counter()
            engine.encode(settings, "document", sets[i][:16])  # actors start and load the model
            t_warm = time.perf_counter() - t0
            t0 = time.perf_counter()
            engine.encode(settings, "document", sets[i][16:])
            t_run = time.perf_counter() - t0
            rates[workers] = ((len(sets[i]) - 16) / t_run, t_warm)
            ray.shutdown()
            print(f"  ray.init {t_init:.1f} s; {workers} worker(s): first chunk (actor start + model load) "
                  f"{t_warm:.1f} s")

        cores = os.cpu_count() or 1
        per_local = t_local / args.n
        print(f"{'encoding path':<44}{'items/s':>9}{'vs in-process':>15}")
        print(f"{'in-process (reference, ' + str(cores) + ' threads)':<44}{args.n / t_local:>9.1f}{1.0:>15.2f}")
        for workers, (rate, _) in rates.items():
            label = f"ray, {workers} worker(s) x {max(1, cores // workers)} thread(s)"
            print(f"{label:<44}{rate:>9.1f}{rate * t_local / args.n:>15.2f}")
        overhead = 1 / rates[1][0] - per_local
        print(f"Ray overhead per item (1 worker, same threads as in-process): {overhead * 1000:+.1f} ms "
              f"({overhead / per_local:+.0%}); per job: ray.init + actor start ~{rates[1][1]:.0f} s")
        per_core = rates[2][0] / cores  # items/s per core, on the Ray path with every core busy
        print("on paper, 5,000,000 results at this per-core rate (linear scaling, store writes not the limit):")
        for n_cores in (2, 16, 64, 256):
            print(f"  {n_cores:>4} cores: {5_000_000 / (per_core * n_cores) / 3600:8.1f} h")

        # a batch run: in process vs on 2 Ray workers, on a synthetic catalogue with cached vectors
        cat_settings = base.model_copy(update={"data_dir": Path(tmp) / "batch"})
        service = App(cat_settings, encoder=inner)  # the data folder's own cache: the actors read it too
        build_catalogue(service, args.results, n_needs=args.needs)
        service.batches.run_now(top_k=10)  # warm: queries encoded once, into the shared cache
        t0 = time.perf_counter()
        run_local = service.batches.run_now(top_k=10)
        t_batch_local = time.perf_counter() - t0
        engine = get_engine("ray", workers=2)
        engine.connect()
        t0 = time.perf_counter()
        run_ray = service.batches.run_now(top_k=10, engine=engine)
        t_batch_ray = time.perf_counter() - t0
        ray.shutdown()
        service.close()
        print(f"batch run, {args.needs} needs x {args.results} results (top 10): in-process {t_batch_local:.1f} s "
              f"({run_local['candidates']} candidates); ray 2 workers {t_batch_ray:.1f} s including actor start "
              f"and catalogue load ({run_ray['candidates']} candidates)")


if __name__ == "__main__":
    main()
