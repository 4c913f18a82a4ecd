"""Judged pairs for `techmatch tune` beyond a benchmark folder: the brokers' confirm/reject decisions in the store.

A decision is a judgement like a benchmark's graded pair: a confirmed candidate is relevant (grade 2), a rejected
one judged not relevant (grade 0). Turned into a `Benchmark` — the needs with decisions as queries, the catalogue's
results as the corpus — they go through the same cross-validation, fitting and install verdict as a benchmark
folder's pairs, and can be joined with one (`combine`).
"""

from __future__ import annotations

from dataclasses import replace

from matcher.errors import Invalid
from matcher.learning.evaluation import RELEVANT, Benchmark
from matcher.store import Store

_FIELDS = ("title", "keywords", "application_fields", "industry", "district")


def decisions_benchmark(store: Store, name: str = "decisions") -> Benchmark:
    """The brokers' decisions as a benchmark: needs with at least one decision, every result of the catalogue."""
    judged: dict[str, dict[str, int]] = {}
    for row in store.decided_candidates():
        grade = RELEVANT if row["status"] == "confirmed" else 0
        judged.setdefault(str(row["need_id"]), {})[str(row["result_id"])] = grade
    if not any(g >= RELEVANT for q in judged.values() for g in q.values()):
        raise Invalid("no confirmed candidate in the store yet: brokers' decisions cannot be tuned on "
                      "(confirm pairs in the review queue, or give --benchmark DIR)")
    needs = store.get_many("needs", sorted(int(i) for i in judged))
    queries = [{**{k: row.get(k) for k in _FIELDS}, "id": str(i), "description": row.get("description") or "",
                "exclude": set()} for i, row in sorted(needs.items())]
    corpus = [{**{k: row.get(k) for k in _FIELDS}, "id": str(row["id"]), "abstract": row.get("abstract") or ""}
              for page in store.pages("results") for row in page]
    present = {d["id"] for d in corpus}
    qrels = {q: {d: g for d, g in docs.items() if d in present} for q, docs in judged.items()
             if q in {x["id"] for x in queries}}
    return Benchmark(name, queries, corpus, qrels, RELEVANT)


def combine(*benches: Benchmark) -> Benchmark:
    """Several benchmarks as one: queries and corpora side by side, ids prefixed by their benchmark's name."""
    if len(benches) == 1:
        return benches[0]

    def tag(b: Benchmark, x: str) -> str:
        return f"{b.name}:{x}"

    queries = [{**q, "id": tag(b, q["id"]), "exclude": {tag(b, d) for d in q["exclude"]}}
               for b in benches for q in b.queries]
    corpus = [{**d, "id": tag(b, d["id"])} for b in benches for d in b.corpus]
    # binary judgements (relevant = 1) are lifted to the graded scale so one threshold serves all
    qrels = {tag(b, q): {tag(b, d): (g * RELEVANT if b.relevant == 1 else g) for d, g in docs.items()}
             for b in benches for q, docs in b.qrels.items()}
    return replace(benches[0], name="+".join(b.name for b in benches), queries=queries, corpus=corpus, qrels=qrels,
                   relevant=RELEVANT)
