"""Assignment rounds measured: the exact min-cost-flow round beside greedy top-k per need — total confidence, needs
covered, exposure of results (maximum and Gini of proposals per result) and solve time — on synthetic catalogues of
1k needs × 10k results and 10k × 100k (each need ranks 30 results, popular results ranked by many: a long tail),
with HiGHS' integer program (scipy.milp) as the reference on the smaller one (same optimum, its time); then a real
round on the demo catalogue.

    python -m benchmarks.bench_assignment [--data-dir D] [--skip-demo]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine, peak_mb
from matcher.matching.assignment import Pair, figures, greedy, solve, timed

PER_NEED, CAPACITY, ORG_CAPACITY, RANKED = 5, 3, 30, 30


def synthetic(needs: int, results: int, seed: int = 7) -> list[Pair]:
    """Each need's RANKED results, drawn with a Zipf-like popularity (a strong lab is in many lists), confidences
    falling with rank; results belong to organisations of ~8 results."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, results + 1) ** 0.8
    pop /= pop.sum()
    picks = rng.choice(results, size=(needs, RANKED * 2), p=pop)
    pairs = []
    for n in range(needs):
        row = list(dict.fromkeys(picks[n].tolist()))[:RANKED]
        base = rng.beta(3, 2)
        for rank, r in enumerate(row):
            pairs.append(Pair(n, r, float(base * 0.97 ** rank * rng.uniform(0.8, 1.0)), org=r // 8, rank=rank + 1))
    return pairs


def by_milp(pairs: list[Pair], needs: int) -> tuple[float, int, float]:
    """(total confidence, needs covered, seconds) of the optimum by HiGHS' integer program on the same limits."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix, vstack

    started = time.perf_counter()
    n_x = len(pairs)
    need = np.array([p.need for p in pairs])
    res = np.array([p.result for p in pairs])
    org = np.array([p.org for p in pairs])
    conf = np.array([p.confidence for p in pairs])
    big = conf.sum() + 1
    cols = np.arange(n_x)

    def group(keys: np.ndarray) -> coo_matrix:
        uniq, inv = np.unique(keys, return_inverse=True)
        return coo_matrix((np.ones(n_x), (inv, cols)), shape=(len(uniq), n_x + needs))

    per_need = group(need)
    cover = coo_matrix((np.concatenate([-np.ones(n_x), np.ones(needs)]),
                        (np.concatenate([need, np.arange(needs)]), np.concatenate([cols, n_x + np.arange(needs)]))),
                       shape=(needs, n_x + needs))
    per_res, per_org = group(res), group(org)
    a = vstack([per_need, cover, per_res, per_org]).tocsr()
    lo = np.concatenate([np.zeros(needs), -np.inf * np.ones(needs), np.zeros(per_res.shape[0] + per_org.shape[0])])
    hi = np.concatenate([PER_NEED * np.ones(needs), np.zeros(needs), CAPACITY * np.ones(per_res.shape[0]),
                         ORG_CAPACITY * np.ones(per_org.shape[0])])
    out = milp(np.concatenate([-conf, -big * np.ones(needs)]), constraints=LinearConstraint(a, lo, hi),
               integrality=np.ones(n_x + needs), bounds=Bounds(0, 1))
    x = np.round(out.x[:n_x]).astype(bool)
    return float(conf[x].sum()), len(set(need[x].tolist())), time.perf_counter() - started


def row(name: str, f: dict) -> str:
    return (f"  {name:<22}{f['pairs']:>8}{f['total_confidence']:>12.1f}{f['needs_covered']:>9}/{f['needs_open']:<7}"
            f"{f['results_proposed']:>9}{f['max_per_result']:>7}{f['gini_per_result']:>8.3f}{f['seconds']:>9.2f}")


def synthetic_rounds() -> None:
    print(f"limits: per_need {PER_NEED}, capacity {CAPACITY} per result, {ORG_CAPACITY} per organisation; "
          f"each need ranks {RANKED} results")
    head = (f"  {'':<22}{'pairs':>8}{'confidence':>12}{'covered':>17}{'results':>9}{'max':>7}{'Gini':>8}"
            f"{'seconds':>9}")
    for needs, results in ((1_000, 10_000), (10_000, 100_000)):
        pairs = synthetic(needs, results)
        print(f"\n{needs:,} needs × {results:,} results ({len(pairs):,} ranked pairs)")
        print(head)
        chosen, seconds = timed(solve, pairs, PER_NEED, CAPACITY, ORG_CAPACITY)
        top, top_seconds = timed(greedy, pairs, PER_NEED)
        print(row("greedy top-k", figures(pairs, top, needs, results, top_seconds)))
        mine = figures(pairs, chosen, needs, results, seconds)
        print(row("min-cost flow (exact)", mine))
        if needs <= 1_000:
            total, covered, milp_seconds = by_milp(pairs, needs)
            print(f"  {'reference: HiGHS MILP':<22}{'':>8}{total:>12.1f}{covered:>9}/{needs:<7}{'':>24}"
                  f"{milp_seconds:>9.2f}")
            same = (abs(total - mine["total_confidence"]) <= 1e-4 * len(chosen) + 1e-6
                    and covered == mine["needs_covered"])
            print(f"  same optimum as the reference: {same}")
    print(f"\npeak memory {peak_mb():.0f} MiB")


def demo_round(data_dir: Path | None) -> None:
    from embeddings import CachedEncoder
    from matcher.app import App
    from matcher.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "demo")
        encoder = CachedEncoder(settings.make_encoder(), (data_dir or Path(tmp)) / "embeddings-cache.db")
        service = App(settings, encoder=encoder)
        service.importer.load_demo()
        print(f"\ndemo catalogue ({service.store.count('needs')} needs, {service.store.count('results')} results, "
              f"{service.store.count('organisations')} organisations), per_need {PER_NEED}, capacity {CAPACITY}, "
              f"min_confidence 0.1 (each need's {max(20, 4 * PER_NEED)} best ranked first)")
        print(f"  {'':<22}{'pairs':>8}{'confidence':>12}{'covered':>17}{'results':>9}{'max':>7}{'Gini':>8}"
              f"{'seconds':>9}")
        for org_capacity in (None, 15, 1000):
            started = time.perf_counter()
            rnd = service.assignments.assign(per_need=PER_NEED, capacity=CAPACITY, min_confidence=0.1,
                                             org_capacity=org_capacity)
            took = time.perf_counter() - started
            if org_capacity is None:
                print(row("greedy top-k", rnd["figures"]["greedy_top_k"]))
            label = f"flow, org cap {org_capacity or CAPACITY}"
            print(row(label, rnd["figures"]["assignment"]) + f"   (round {took:.1f} s with ranking)")
        print(f"  eligible pairs {rnd['figures']['eligible_pairs']}; left out {rnd['figures']['left_out']}")
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="a data folder to reuse (its embedding cache)")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    print(machine())
    synthetic_rounds()
    if not args.skip_demo:
        demo_round(args.data_dir)


if __name__ == "__main__":
    main()
