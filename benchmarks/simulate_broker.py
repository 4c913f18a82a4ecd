"""Learning curve of the broker-trained reranker: a simulated broker decides candidates with the bdci-dev labels
(relevance >= 2 → confirm, else reject), going down the review queue rank by rank; after 50, 200 and 1,000
decisions the reranker is trained and measured on needs it never saw (3 random splits, 60 % / 40 % of needs).

    python -m benchmarks.simulate_broker [--benchmark ../shared/eval/bdci-dev] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.common import machine

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "bdci-dev"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--benchmark", type=Path, default=SHARED)
    parser.add_argument("--data-dir", type=Path, default=Path("benchmarks/out/simulate"))
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    if not args.benchmark.exists():
        print(f"{args.benchmark} is absent (internal evaluation data): nothing to simulate")
        return

    from embeddings import CachedEncoder, get_encoder
    from matcher.learning import learn
    from matcher.learning.evaluation import RELEVANT, load_benchmark, ndcg_at, prepare, recall_at
    from matcher.retrieval.documents import document_text
    from matcher.retrieval.lexical import LexicalIndex
    from matcher.retrieval.ranking import RERANK_POOL, rank

    bench = load_benchmark(args.benchmark)
    lexical = LexicalIndex()
    lexical.add(list(range(len(bench.corpus))), [document_text("results", d) for d in bench.corpus])
    args.data_dir.mkdir(parents=True, exist_ok=True)
    encoder = CachedEncoder(get_encoder("e5"), args.data_dir / "embeddings-cache.db")
    prepared = prepare(bench, encoder, lexical)
    ids = [d["id"] for d in bench.corpus]
    index_of = {d: i for i, d in enumerate(ids)}
    usable = [i for i, q in enumerate(bench.queries)
              if any(r >= RELEVANT for r in bench.qrels.get(q["id"], {}).values())]

    def evaluate(test: list[int], model) -> np.ndarray:
        out = []
        for qi in test:
            q, query = bench.queries[qi], prepared.queries[qi]
            rels = {d: r for d, r in bench.qrels[q["id"]].items() if d in index_of}
            judged = [index_of[d] for d in rels]
            t1 = rank(prepared.side, query, "hybrid", len(judged), judged, pool=len(judged))
            t2 = rank(prepared.side, query, "hybrid", 100, pool=200)
            if model is not None:
                t1 = learn.rerank(t1, model)
                t2 = learn.rerank(t2[:RERANK_POOL], model) + t2[RERANK_POOL:]
            r1, r2 = [ids[s.id] for s in t1], [ids[s.id] for s in t2]
            out.append([ndcg_at(r1, rels), float(rels.get(r1[0], 0) >= RELEVANT), recall_at(r2, rels, 100),
                        ndcg_at(r2, rels)])
        return np.asarray(out).mean(0)

    curve: dict[int, list[np.ndarray]] = {0: []}
    for seed in range(args.seeds):
        order = np.random.default_rng(seed).permutation(usable)
        cut = int(len(order) * 0.6)
        train, test = order[:cut].tolist(), order[cut:].tolist()
        queue = []  # the broker works down the queue: every need's rank-1 candidate, then rank 2, …
        for qi in train:
            q = bench.queries[qi]
            for pos, s in enumerate(rank(prepared.side, prepared.queries[qi], "hybrid", 20, pool=200), start=1):
                label = int(bench.qrels[q["id"]].get(ids[s.id], 0) >= RELEVANT)
                queue.append((pos, qi, learn.feature_row({**s.components, "fused": s.score}, None, pos), label))
        queue.sort(key=lambda d: (d[0], d[1]))
        curve[0].append(evaluate(test, None))
        for n in args.steps:
            part = queue[:n]
            x = np.asarray([d[2] for d in part])
            y = np.asarray([d[3] for d in part])
            g = np.asarray([d[1] for d in part])
            model = learn.fit(x, y, g) if len(np.unique(y)) == 2 else None
            curve.setdefault(n, []).append(evaluate(test, model))
    print(f"machine: {machine()}; {bench.name}: {len(usable)} needs with a relevant result, "
          f"{args.seeds} splits 60/40 (train decisions / test needs)")
    print(f"{'decisions':>10}{'T1 nDCG@10':>12}{'T1 P@1':>9}{'T2 R@100':>10}{'T2 nDCG@10':>12}")
    for n, rows in curve.items():
        m = np.mean(rows, axis=0)
        label = "untrained" if n == 0 else str(n)
        print(f"{label:>10}{m[0]:>12.3f}{m[1]:>9.3f}{m[2]:>10.3f}{m[3]:>12.3f}")


if __name__ == "__main__":
    main()
