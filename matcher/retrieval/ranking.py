"""Ranking one catalogue side for a query: dense, lexical and their fusion, by method name.

The same code ranks the live catalogue (service) and a benchmark corpus (evaluation), so figures measured by
`techmatch eval` are figures of what `techmatch match` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from matcher.errors import Invalid
from matcher.retrieval import fusion
from matcher.retrieval.hubness import HUB_WEIGHT, Hubness, corrected
from matcher.retrieval.index import VectorIndex
from matcher.retrieval.lexical import LexicalIndex


@dataclass
class CatalogueSide:
    """One side of the catalogue (needs or results) as the ranker sees it; `other` is the opposite side's index."""

    name: str
    dense: VectorIndex
    lexical: LexicalIndex
    other: VectorIndex | None = None
    hubness: Hubness = field(default_factory=Hubness)


@dataclass
class Query:
    """What a ranker needs of a query: dense view vectors (rows) and the text for lexical matching."""

    vectors: np.ndarray
    lexical_text: str
    view_weights: Sequence[float] | None = None
    title: str = ""  # the first view's text (title-only methods search with it alone)


@dataclass(frozen=True)
class Method:
    """A ranking recipe: which components count and how they are fused."""

    name: str
    weights: dict[str, float]
    fusion: str = "weighted"
    description: str = ""
    hub: float = 0.0  # share of an item's hubness taken off its dense score before fusion (see hubness.py)
    title_only: bool = False  # query with the title alone (dense: the title view; BM25: the title's text)


METHODS: dict[str, Method] = {
    "lexical": Method("lexical", {"lexical": 1.0}, description="BM25 over character bigrams"),
    "dense": Method("dense", {"dense": 1.0}, description="cosine similarity of the encoder's embeddings"),
    "hybrid": Method("hybrid", {"dense": 0.75, "lexical": 0.25}, hub=HUB_WEIGHT,
                     description="weighted fusion of min-max normalised BM25 and dense scores, the dense score "
                                 "less 0.5 × the item's hubness (its closeness to the other side as a whole)"),
    "hybrid-plain": Method("hybrid-plain", {"dense": 0.75, "lexical": 0.25},
                           description="weighted fusion of min-max normalised dense and BM25 scores"),
    "rrf": Method("rrf", {"dense": 1.0, "lexical": 1.0}, fusion="rrf",
                  description="reciprocal-rank fusion of dense and BM25 rankings"),
    "hybrid-title": Method("hybrid-title", {"dense": 0.75, "lexical": 0.25}, hub=HUB_WEIGHT, title_only=True,
                           description="the hybrid, querying with a listing's title alone (dense and BM25)"),
    "hybrid-logodds": Method("hybrid-logodds", {"dense": 0.75, "lexical": 0.25}, fusion="logodds", hub=HUB_WEIGHT,
                             description="the hybrid fused by log-odds of per-query sigmoid-normalised scores "
                                         "(z-scores) instead of min-max"),
    "learned": Method("learned", {"dense": 0.75, "lexical": 0.25}, hub=HUB_WEIGHT,
                      description="hybrid candidates re-ranked by the model trained on brokers' decisions"),
    "hybrid-ce": Method("hybrid-ce", {"dense": 0.75, "lexical": 0.25}, hub=HUB_WEIGHT,
                        description="the hybrid's top 30 re-ranked by the cross-encoder `techmatch tune --mode "
                                    "cross-encoder` trained (reads need and listing together)"),
}
RERANK_POOL = 50  # candidates the learned method re-orders
POOL = 200  # candidates each component retrieves before fusion; min-max normalisation runs over their union
# (bdci-dev, hybrid: 100 → 200 lifts T2 R@100 0.621 → 0.633 and R@10 0.314 → 0.317 for +0.8 ms per query)
SLACK = 20  # candidates ranked beyond top_k (and the excluded ones), so boosts can lift one into the top_k
CLUSTER_BOOST = 0.03  # relative score boost for the same cluster
DISTRICT_BOOST = 0.02  # and for the same district


@dataclass
class Scored:
    """One ranked item with the components of its score."""

    id: int
    score: float
    components: dict[str, float] = field(default_factory=dict)


def get_method(name: str) -> Method:
    """The method called `name`, or a ValueError listing the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise Invalid(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None


def dense_scores(side: CatalogueSide, query: Query, pool: int, allowed: Sequence[int] | None
                 ) -> dict[int, float]:
    """Cosine scores of the top `pool` items (views combined by weighted mean of each view's scores)."""
    vectors = np.atleast_2d(query.vectors)
    weights = np.asarray(query.view_weights if query.view_weights is not None else [1.0] * len(vectors))
    weights = weights / weights.sum()
    found: set[int] = set()
    _, ids = side.dense.search(vectors, pool, allowed)
    for row in ids:
        found.update(int(i) for i in row if i >= 0)
    if not found:
        return {}
    cand = sorted(found)
    mat = side.dense.vectors(cand)
    combined = (mat @ vectors.T) @ weights
    return dict(zip(cand, combined.astype(float).tolist()))


def rank(side: CatalogueSide, query: Query, method: Method | str, k: int = 10,
         allowed: Sequence[int] | None = None, pool: int = 100, public: bool = False) -> list[Scored]:
    """The k best items of a side for a query under a method, with score components; `public` weighs BM25 by the
    public listings' statistics alone (an outsider's ranking: see LexicalIndex)."""
    method = get_method(method) if isinstance(method, str) else method
    if allowed is not None and len(allowed) == 0:
        return []
    if method.title_only and query.title:
        query = Query(np.atleast_2d(query.vectors)[:1], query.title, [1.0], query.title)
    pool = max(pool, k)
    comps: dict[str, dict[int, float]] = {}
    if "dense" in method.weights and len(side.dense):
        comps["dense"] = dense_scores(side, query, pool, allowed)
    if "lexical" in method.weights and len(side.lexical):
        scores, ids = side.lexical.search(query.lexical_text, pool, allowed, public)
        comps["lexical"] = dict(zip(ids.tolist(), scores.astype(float).tolist()))
    retrieved = {name: dict(c) for name, c in comps.items()}
    if len(comps) > 1:
        _fill_missing(side, query, comps, public)
    fuse = comps
    if method.hub and comps.get("dense"):
        hub = side.hubness.of(side.dense, side.other, list(comps["dense"]))
        fuse = {**comps, "dense": {i: corrected(s, hub[i], method.hub) for i, s in comps["dense"].items()}}
        comps["hubness"] = hub
    if method.fusion == "logodds":
        fused = fusion.logodds(fuse, method.weights)
    elif method.fusion == "rrf":
        # ranks count only where a component itself retrieved the item (a filled-in zero is no rank)
        fused = fusion.rrf(retrieved, weights=method.weights)
    elif len(fuse) == 1:
        fused = dict(next(iter(fuse.values())))
    else:
        fused = fusion.weighted(fuse, method.weights)
    order = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    return [Scored(i, float(fused[i]), {name: float(c.get(i, 0.0)) for name, c in comps.items()})
            for i in order]


def shortlist(side: CatalogueSide, query: Query, method: Method, top_k: int, allowed: Sequence[int] | None = None,
              excluded: int = 0, public: bool = False) -> list[Scored]:
    """The whole ranked pool that `match` takes its top_k from and `eval` measures: one rule for both.

    At least POOL candidates whatever top_k, so the pool that min-max fusion normalises over, and the best
    candidates that calibration measures against, do not depend on how many results were asked for. Callers drop
    excluded items, boost (final_order) the first top_k + SLACK and cut to top_k.
    """
    k = max(POOL, top_k + excluded + SLACK, RERANK_POOL if method.name == "learned" else 0)
    return rank(side, query, method, k, allowed, pool=POOL, public=public)


def boost(query_row: dict | None, item: dict) -> float:
    """Relative boost of an item for a listing query: same cluster (not "other") and same district."""
    if query_row is None:
        return 0.0
    out = 0.0
    if query_row.get("industry") and query_row.get("industry") == item.get("industry") and item["industry"] != "other":
        out += CLUSTER_BOOST
    if query_row.get("district") and query_row.get("district") == item.get("district"):
        out += DISTRICT_BOOST
    return out


def final_order(scored: Sequence[Scored], query_row: dict | None, items: dict[int, dict]
                ) -> list[tuple[Scored, float, float]]:
    """(candidate, boost, final score) best first; candidates without an item row are left out. Boosts are
    relative, so they weigh the same whatever the method's score scale."""
    out = [(s, b, s.score * (1 + b)) for s in scored if (item := items.get(s.id)) is not None
           for b in (boost(query_row, item),)]
    out.sort(key=lambda t: -t[2])
    return out


def _fill_missing(side: CatalogueSide, query: Query, comps: dict[str, dict[int, float]], public: bool = False
                  ) -> None:
    """Give every pooled candidate its exact score in every component, so fusion compares like with like."""
    pool = set().union(*comps.values())
    if "dense" in comps:
        missing = sorted(pool - comps["dense"].keys())
        if missing:
            vectors = np.atleast_2d(query.vectors)
            weights = np.asarray(query.view_weights if query.view_weights is not None else [1.0] * len(vectors))
            sims = (side.dense.vectors(missing) @ vectors.T) @ (weights / weights.sum())
            comps["dense"].update(zip(missing, sims.astype(float).tolist()))
    if "lexical" in comps:
        missing = sorted(pool - comps["lexical"].keys())
        if missing:
            comps["lexical"].update(zip(missing, side.lexical.score_ids(query.lexical_text, missing, public).tolist()))
