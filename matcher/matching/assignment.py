"""Global assignment: pairs for all open needs at once, maximising total confidence under capacity limits.

The problem is a min-cost flow (solved exactly by OR-Tools' network simplex, integral because flows are):

    source ──(1, −COVER)──▶ need ──(1, −confidence)──▶ result ──(capacity)──▶ organisation ──(org_capacity)──▶ sink
           └─(per_need − 1, 0)┘                              └─ (no organisation: straight to the sink) ─────────┘
    source ──────────────────────────────(unbounded, 0)───────────────────────────────────────────────────▶ sink

The first unit into a need earns a bonus larger than any total of confidences, so the optimum first covers as
many needs as the limits allow (each with at least one pair) and then maximises total confidence; the bypass arc
lets pairs stay unproposed. Two references it is compared with: greedy top-k per need with no limit at all
(`greedy`), and greedy under the same limits (`greedy_limited`: the most confident pairs first, each taken while
its need, result and organisation have room), on the same pool of pairs (`figures`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCALE = 10_000  # confidence resolution of the integer costs (1e-4)


@dataclass(frozen=True)
class Pair:
    """One eligible (need, result) pair and what it is worth; `org` is the result's organisation (None: none)."""

    need: int
    result: int
    confidence: float
    score: float = 0.0
    org: int | None = None
    rank: int | None = None  # the result's place in the need's ranked list
    components: dict[str, float] | None = field(default=None, compare=False)  # the ranking's score parts


def solve(pairs: Sequence[Pair], per_need: int, capacity: int | None, org_capacity: int | None = None) -> list[int]:
    """Indexes of the pairs to propose: every need at most `per_need` (at least one where the limits allow), every
    result at most `capacity` and every result organisation at most `org_capacity` times (None: no such limit);
    covering the most needs first, then the largest total confidence. Exact (min-cost flow)."""
    from ortools.graph.python import min_cost_flow

    if not pairs:
        return []
    if per_need < 1 or (capacity is not None and capacity < 1) or (org_capacity is not None and org_capacity < 1):
        raise ValueError("per_need, capacity and org_capacity must be at least 1")
    needs = {n: i for i, n in enumerate(dict.fromkeys(p.need for p in pairs))}
    unlimited = len(needs) * per_need  # no more than every need's share can flow through one result or organisation
    capacity = unlimited if capacity is None else capacity
    org_capacity = unlimited if org_capacity is None else org_capacity
    results = {r: i for i, r in enumerate(dict.fromkeys(p.result for p in pairs))}
    orgs = {o: i for i, o in enumerate(dict.fromkeys(p.org for p in pairs if p.org is not None))}
    n_need, n_res = len(needs), len(results)
    source, sink = 0, 1
    need_node = 2                      # needs: 2 .. 2+n_need
    res_node = need_node + n_need      # results
    org_node = res_node + n_res        # organisations
    weights = [max(0, round(p.confidence * SCALE)) for p in pairs]
    cover = sum(sorted(weights, reverse=True)[: n_need * per_need]) + 1  # beats any total of confidences

    flow = min_cost_flow.SimpleMinCostFlow()
    tails: list[int] = []
    heads: list[int] = []
    caps: list[int] = []
    costs: list[int] = []

    def arc(tail: int, head: int, cap: int, cost: int) -> None:
        tails.append(tail)
        heads.append(head)
        caps.append(cap)
        costs.append(cost)

    for i in range(n_need):
        arc(source, need_node + i, 1, -cover)
        if per_need > 1:
            arc(source, need_node + i, per_need - 1, 0)
    first_pair_arc = len(tails)
    for p, w in zip(pairs, weights):
        arc(need_node + needs[p.need], res_node + results[p.result], 1, -w)
    result_org = {p.result: p.org for p in pairs}
    for r, i in results.items():
        org = result_org[r]
        arc(res_node + i, sink if org is None else org_node + orgs[org], capacity, 0)
    for i in range(len(orgs)):
        arc(org_node + i, sink, org_capacity, 0)
    supply = n_need * per_need
    arc(source, sink, supply, 0)
    flow.add_arcs_with_capacity_and_unit_cost(np.array(tails, dtype=np.int32), np.array(heads, dtype=np.int32),
                                              np.array(caps, dtype=np.int64), np.array(costs, dtype=np.int64))
    flow.set_nodes_supplies(np.array([source, sink], dtype=np.int32), np.array([supply, -supply], dtype=np.int64))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"the assignment solver stopped without an optimum (status {status})")
    arcs = np.arange(first_pair_arc, first_pair_arc + len(pairs))
    return [int(i) for i in np.flatnonzero(flow.flows(arcs) > 0)]


def greedy(pairs: Sequence[Pair], per_need: int) -> list[int]:
    """The reference: each need's `per_need` most confident pairs, whatever else is proposed (top-k per need)."""
    by_need: dict[int, list[int]] = {}
    for i, p in enumerate(pairs):
        by_need.setdefault(p.need, []).append(i)
    chosen: list[int] = []
    for idx in by_need.values():
        chosen.extend(sorted(idx, key=lambda i: (-pairs[i].confidence, -pairs[i].score, pairs[i].result))[:per_need])
    return sorted(chosen)


def greedy_limited(pairs: Sequence[Pair], per_need: int, capacity: int | None, org_capacity: int | None = None
                   ) -> list[int]:
    """The reference on equal terms: the most confident pairs first, each taken while its need has fewer than
    `per_need`, its result fewer than `capacity` and its organisation fewer than `org_capacity` (None: no limit)."""
    taken_need: Counter = Counter()
    taken_result: Counter = Counter()
    taken_org: Counter = Counter()
    chosen: list[int] = []
    for i in sorted(range(len(pairs)), key=lambda i: (-pairs[i].confidence, -pairs[i].score, pairs[i].need,
                                                        pairs[i].result)):
        p = pairs[i]
        if taken_need[p.need] >= per_need or (capacity is not None and taken_result[p.result] >= capacity):
            continue
        if p.org is not None and org_capacity is not None and taken_org[p.org] >= org_capacity:
            continue
        chosen.append(i)
        taken_need[p.need] += 1
        taken_result[p.result] += 1
        if p.org is not None:
            taken_org[p.org] += 1
    return sorted(chosen)


def gini(counts: Sequence[int]) -> float:
    """Gini coefficient of proposals per result (0: every result proposed equally often, 1: one result takes all)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    if len(x) == 0 or x.sum() == 0:
        return 0.0
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def figures(pairs: Sequence[Pair], chosen: Sequence[int], needs_open: int, results_listed: int,
            seconds: float) -> dict[str, float | int]:
    """What a set of proposals achieves: total confidence, needs covered, and how exposure spreads over results
    (maximum and Gini of proposals per result, over every listed result, unproposed ones counting 0)."""
    per_result = Counter(pairs[i].result for i in chosen)
    counts = list(per_result.values()) + [0] * max(0, results_listed - len(per_result))
    return {"pairs": len(chosen), "total_confidence": round(sum(pairs[i].confidence for i in chosen), 4),
            "needs_open": needs_open, "needs_covered": len({pairs[i].need for i in chosen}),
            "results_proposed": len(per_result), "max_per_result": max(per_result.values(), default=0),
            "gini_per_result": round(gini(counts), 4), "seconds": round(seconds, 4)}


def timed(fn: Callable[..., list[int]], *args: Any, **kw: Any) -> tuple[list[int], float]:
    """`fn(*args, **kw)` and the seconds it took."""
    start = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - start
