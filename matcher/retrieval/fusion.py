"""Score fusion: pure functions that combine the rankings of several methods into one."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def minmax(scores: Mapping[int, float]) -> dict[int, float]:
    """Scores rescaled to 0–1 over the candidate pool (all equal → all 1)."""
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64)
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:
        return {k: 1.0 for k in scores}
    return {k: (v - lo) / (hi - lo) for k, v in scores.items()}


def weighted(components: Mapping[str, Mapping[int, float]], weights: Mapping[str, float]) -> dict[int, float]:
    """Weighted sum of min-max normalised component scores; a candidate missing from a component gets 0 there."""
    fused: dict[int, float] = {}
    total = sum(weights.get(name, 0.0) for name in components) or 1.0
    for name, scores in components.items():
        w = weights.get(name, 0.0) / total
        if w == 0:
            continue
        for item, s in minmax(scores).items():
            fused[item] = fused.get(item, 0.0) + w * s
    return fused


def rrf(components: Mapping[str, Mapping[int, float]], k: int = 60,
        weights: Mapping[str, float] | None = None) -> dict[int, float]:
    """Reciprocal-rank fusion: sum of w / (k + rank) over the components' own orderings."""
    fused: dict[int, float] = {}
    for name, scores in components.items():
        w = 1.0 if weights is None else weights.get(name, 0.0)
        for rank, item in enumerate(sorted(scores, key=lambda i: -scores[i]), start=1):
            fused[item] = fused.get(item, 0.0) + w / (k + rank)
    return fused


def logodds(components: Mapping[str, Mapping[int, float]], weights: Mapping[str, float]) -> dict[int, float]:
    """Log-odds fusion: each component's scores mapped to probabilities by a sigmoid of their z-score over the
    pool, then the weighted log-odds summed (logit∘sigmoid is the identity: a weighted sum of z-scores); a
    candidate missing from a component gets that component's lowest score."""
    fused: dict[int, float] = {}
    items = set().union(*components.values()) if components else set()
    for name, scores in components.items():
        w = weights.get(name, 0.0)
        if w == 0 or not scores:
            continue
        values = np.fromiter(scores.values(), dtype=np.float64)
        mean, std, low = float(values.mean()), float(values.std()), float(values.min())
        for item in items:
            z = (scores.get(item, low) - mean) / std if std > 1e-12 else 0.0
            fused[item] = fused.get(item, 0.0) + w * z
    return fused
