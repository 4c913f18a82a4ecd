"""Matching one listing (or a text) against the other side of the live catalogue.

The steps, in order: the shortlist of the chosen method (dense and BM25 over the pool, fused, hubness-corrected),
the calibrated confidence of each candidate, the learned reranker (method "learned") or the cross-encoder (method
"hybrid-ce"), the relative boosts for the same cluster and district, the cut to top_k, and an explanation of each
pair.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embeddings import Encoder
from matcher.catalogue import LiveCatalogue
from matcher.errors import Invalid, Unavailable
from matcher.ingest.vocab import Vocab
from matcher.learning import calibration, cross_encoder, learn
from matcher.learning.models import Models
from matcher.matching import explain as explain_mod
from matcher.retrieval.documents import document_text, query_views
from matcher.retrieval.ranking import (
    RERANK_POOL,
    SLACK,
    CatalogueSide,
    Query,
    final_order,
    get_method,
    shortlist,
)
from matcher.store import Store

OTHER = {"needs": "results", "results": "needs"}


@dataclass
class Match:
    """One suggested counterpart of a listing, with its score components and explanation."""

    id: int
    side: str
    rank: int
    score: float
    components: dict[str, float]
    item: dict[str, Any]
    explanation: dict[str, Any] = field(default_factory=dict)
    confidence: float | None = None  # calibrated probability the pair is relevant (see learning/calibration.py)

    def to_dict(self) -> dict[str, Any]:
        """The match as plain data (its item, components and explanation copied one level deep: a consumer may
        replace their keys without touching the match; `dataclasses.asdict`'s deep copy cost ~0.2 ms a match)."""
        return {"id": self.id, "side": self.side, "rank": self.rank, "score": self.score,
                "components": dict(self.components), "item": dict(self.item),
                "explanation": dict(self.explanation), "confidence": self.confidence}

    @property
    def sure(self) -> float:
        """The calibrated confidence, or (for a method without one) the score read as a 0–1 share: what limits
        such as `min_confidence` compare against."""
        if self.confidence is not None:
            return float(self.confidence)
        return min(1.0, max(0.0, self.score / 100))


ALLOWED_KEPT = 16  # hard-filter answers kept per process (each an array of ids)


def _frozen(value: Any) -> Any:
    """A filter value as a hashable key (lists and sets become sorted tuples, dicts sorted item tuples)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(sorted((_frozen(v) for v in value), key=repr))
    return value


class Matcher:
    """Ranks, scores and explains; reads listings from the store and indexes from the live catalogue."""

    def __init__(self, store: Store, vocab: Vocab, default_method: str, encoder: Callable[[], Encoder],
                 catalogue: Callable[[], LiveCatalogue], models: Models) -> None:
        self.store = store
        self.vocab = vocab
        self.default_method = default_method
        self._encoder = encoder
        self._catalogue = catalogue
        self.models = models
        # matching is CPU-bound Python and numpy: more concurrent queries than cores only thrash the GIL
        self._slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))
        self._allowed: OrderedDict[tuple, np.ndarray] = OrderedDict()  # hard filters' ids, by catalogue state
        self._allowed_lock = threading.Lock()

    # -- queries --------------------------------------------------------------------------
    def listing_query(self, side: str, row: dict[str, Any]) -> Query:
        """A listing as a query: its title and full-text views, encoded, and its lexical text."""
        views, weights, lexical = query_views(side, row)
        return Query(self._query_vectors(views), lexical, weights, views[0])

    def text_query(self, text: str) -> Query:
        """Free text as a query (NUL characters dropped; empty text refused)."""
        text = (text or "").replace("\x00", "").strip()
        if not text:
            raise Invalid("the search text is empty")
        return Query(self._query_vectors([text]), text, None, text)

    def _query_vectors(self, texts: list[str]):
        """Query embeddings (cached), through the query adapter when `techmatch tune` installed one."""
        vectors = self._encoder().encode_queries(texts)
        adapter = self.models.adapter
        return adapter.apply(vectors) if adapter is not None else vectors

    # -- ranking --------------------------------------------------------------------------
    def allowed(self, side: str, filters: dict[str, Any] | None) -> np.ndarray | None:
        """Ids passing the hard filters (None: no filter), read from the store once per catalogue state: the
        answer changes only with a write, and every write moves the change log this process applies (at 10k
        results the read cost as much as the match itself, on every request that asks only for open listings)."""
        if not filters or not any(v not in (None, [], "") for v in filters.values()):
            return None
        if self.store.in_transaction():  # this thread's uncommitted writes are in no catalogue state yet
            return np.asarray(self.store.listing_ids(side, filters), dtype=np.int64)
        cat = self._catalogue()
        key = (id(cat), cat.applied, side, _frozen(filters))
        with self._allowed_lock:
            ids = self._allowed.get(key)
            if ids is not None:
                self._allowed.move_to_end(key)
                return ids
        ids = np.asarray(self.store.listing_ids(side, filters), dtype=np.int64)
        ids.setflags(write=False)  # shared by every request until the next write
        with self._allowed_lock:
            self._allowed[key] = ids
            while len(self._allowed) > ALLOWED_KEPT:
                self._allowed.popitem(last=False)
        return ids

    def matches(self, target: str, query: Query, query_row: dict[str, Any] | None, top_k: int,
                filters: dict[str, Any] | None = None, method: str | None = None,
                exclude: Sequence[int] = (), explain: bool = True, public: bool = False) -> list[Match]:
        """The top_k items of `target` for a query, best first, each scored, calibrated and explained; `public`:
        for a caller who may not read confidential needs, whose scores then depend on no statistic of them."""
        with self._slots:
            return self._matches(target, query, query_row, top_k, filters, method, set(exclude), explain, public)

    def _matches(self, target: str, query: Query, query_row: dict[str, Any] | None, top_k: int,
                 filters: dict[str, Any] | None, method: str | None, exclude: set[int], explain: bool,
                 public: bool = False) -> list[Match]:
        method_obj = get_method(method or self.default_method)
        sides = self._catalogue().sides  # brought up to date with the store once per query
        side = sides[target]
        allowed = self.allowed(target, filters)
        model = None
        if method_obj.name == "learned":
            model = self.models.reranker
            if model is None:
                raise Invalid("method 'learned' needs a model trained on brokers' decisions: run `techmatch train`")
        cross = None
        if method_obj.name == "hybrid-ce":
            cross = self.models.cross_encoder
            if cross is None and self.models.cross_encoder_error:
                raise Unavailable(f"method 'hybrid-ce' cannot run: {self.models.cross_encoder_error}")
            if cross is None:
                raise Invalid("method 'hybrid-ce' needs a cross-encoder: run `techmatch tune --mode cross-encoder` "
                              "(with torch installed)")
        ranked = shortlist(side, query, method_obj, top_k, allowed, len(exclude), public)
        calibrated = self.models.calibration if model is None and method_obj.hub else None
        if calibrated is not None:
            calibration.attach(ranked, calibrated)  # against the best candidates, excluded ones included
        scored = [s for s in ranked if s.id not in exclude][:max(top_k + SLACK, RERANK_POOL if model else 0,
                                                                cross_encoder.DEPTH if cross else 0)]
        rows = self.store.get_many(target, [s.id for s in scored])
        if model is not None:
            fits = [self.fits(target, query_row, rows.get(s.id)) for s in scored]
            scored = learn.rerank(scored, model, fits)
        if cross is not None:
            scored = [s for s in scored if s.id in rows]
            own = document_text(OTHER[target], query_row) if query_row is not None else query.title
            theirs = [document_text(target, rows[s.id]) for s in scored]
            needs, listings = ([own] * len(theirs), theirs) if target == "results" else (theirs, [own] * len(theirs))
            scored = cross_encoder.rerank(scored, needs, listings, cross)
        out = [Match(s.id, target, 0, final, {**s.components, "fused": s.score, "boost": boost}, rows[s.id],
                     confidence=s.components.get("confidence"))
               for s, boost, final in final_order(scored, query_row, rows)][:top_k]
        for i, m in enumerate(out, start=1):
            m.rank = i
            if explain:
                m.explanation = self.explain_pair(target, query_row, m.item, query.lexical_text, sides)
        return out

    # -- explanations ---------------------------------------------------------------------
    @staticmethod
    def idf(sides: dict[str, CatalogueSide]) -> Callable[[str], float]:
        """Rarity of a term across the public listings of both sides (generic words score low), as a function:
        explanations and keyword suggestions order words by it, so it counts no confidential need."""
        sizes = {name: s.lexical.size(public=True) for name, s in sides.items()}
        total = sum(sizes.values())
        weights = [(s.lexical, sizes[name] / total) for name, s in sides.items()] if total else []
        return lambda term: sum(lexical.idf(term, public=True) * w for lexical, w in weights)

    def fits(self, target: str, query_row: dict[str, Any] | None, item: dict[str, Any] | None
             ) -> dict[str, Any] | None:
        """Field fits of a pair (cheap: no text processing), or None for free-text queries."""
        if query_row is None or item is None:
            return None
        need, result = (query_row, item) if target == "results" else (item, query_row)
        return explain_mod.field_fits(need, result, self.vocab)

    def explain_pair(self, target: str, query_row: dict[str, Any] | None, item: dict[str, Any],
                     query_text: str, sides: dict[str, CatalogueSide] | None = None) -> dict[str, Any]:
        """Shared terms, best sentence and field fits of a query listing (or free text) and an item."""
        idf = self.idf(sides if sides is not None else self._catalogue().sides)
        item_text = document_text(target, item)
        if query_row is None:
            return {"shared_terms": explain_mod.shared_terms(query_text, item_text, idf),
                    "best_sentence": explain_mod.best_sentence(query_text, item_text, idf)}
        if target == "results":
            need, result = query_row, item
            need_text, result_text = document_text("needs", need), item_text
        else:
            need, result = item, query_row
            need_text, result_text = item_text, document_text("results", result)
        out = explain_mod.explain(need, result, need_text, result_text, idf, self.vocab)
        if target == "needs":
            # the sentence that matters to the reader is the need's, for a result looking for needs
            out["best_sentence"] = explain_mod.best_sentence(result_text, need_text, idf)
        return out
