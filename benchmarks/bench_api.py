"""`/needs/{id}/matches` over HTTP on loopback with 1, 8 and 32 concurrent clients against a 10k-result catalogue,
served by `techmatch serve` with 1 and with 2 workers, next to the in-process call that returns the same answer (an
anonymous caller's view of the open results, with explanations), measured in the same run (synthetic catalogue:
see benchmarks/synthetic.py).

    python -m benchmarks.bench_api [--results 10000] [--requests 160] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks.common import free_port, machine, percentiles, wait_healthy
from benchmarks.synthetic import build_catalogue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=160, help="requests per concurrency level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="`techmatch serve --workers`")
    args = parser.parse_args()

    from embeddings import get_encoder
    from matcher.app import App
    from matcher.settings import get_settings
    from matcher.store import AVAILABLE

    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings().model_copy(update={"data_dir": Path(tmp)})
        service = App(settings, encoder=get_encoder("e5"))
        build_catalogue(service, args.results, n_needs=50)
        service.load()
        needs = service.store.ids("needs")
        # the reference returns what the API does: an anonymous caller's view, open results only
        same = {"top_k": 10, "filters": {"status": AVAILABLE["results"]}, "viewer": None}
        for nid in needs:  # warm the query-embedding cache both processes share
            service.matching.match_need(nid, **same)
        local = []
        for i in range(args.requests):
            t0 = time.perf_counter()
            service.matching.match_need(needs[i % len(needs)], **same)
            local.append(time.perf_counter() - t0)
        lp50, lp99 = percentiles(local)
        print(f"machine: {machine()}; {args.results} results, {len(needs)} needs; uvicorn")
        print(f"{'workers':>8}{'clients':>8}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>9}{'p50 vs in-process':>20}")
        print(f"{'':>8}{'in-proc':>8}{lp50:>10.1f}{lp99:>10.1f}{1 / (sum(local) / len(local)):>9.1f}{1.0:>20.2f}")
        try:
            for workers in args.workers:
                _serve_and_measure(tmp, workers, args, needs, lp50)
        finally:
            service.close()


def _serve_and_measure(data: str, workers: int, args: argparse.Namespace, needs: list[int], lp50: float) -> None:
    """Start `techmatch serve --workers N` on the catalogue and print one row per concurrency level."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "matcher.cli", "serve", "--port", str(port), "--workers",
                             str(workers), "--data-dir", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{base}/health", 240, 0.5)
        for clients in args.clients:
            with httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_connections=clients)) as client:
                for nid in needs[:max(clients, 2 * workers)]:  # every worker has loaded and answered once
                    client.get(f"/needs/{nid}/matches", params={"top_k": 10})

                def one(i: int) -> float:
                    t0 = time.perf_counter()
                    r = client.get(f"/needs/{needs[i % len(needs)]}/matches", params={"top_k": 10})
                    r.raise_for_status()
                    return time.perf_counter() - t0

                t0 = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    times = list(pool.map(one, range(args.requests)))
                wall = time.perf_counter() - t0
            p50, p99 = percentiles(times)
            print(f"{workers:>8}{clients:>8}{p50:>10.1f}{p99:>10.1f}{args.requests / wall:>9.1f}{p50 / lp50:>20.2f}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)

if __name__ == "__main__":
    main()
