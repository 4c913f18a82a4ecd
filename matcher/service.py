"""The one service layer: the CLI, the API and the UI call these methods, never SQL or encoders directly."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from embeddings import CachedEncoder, Encoder, get_encoder

from . import calibration, learn
from . import explain as explain_mod
from .index import VectorIndex
from .lexical import LexicalIndex
from .ranking import RERANK_POOL, CatalogueSide, Query, get_method, rank
from .schemas import NeedIn, OrgIn, ResultIn
from .settings import Settings, get_settings
from .store import LISTING_TABLES, Conflict, NotFound, Store, listing_where, now
from .text import learn_terms
from .vocab import Vocab, load_vocab

Progress = Callable[[int, int], None]
OTHER = {"needs": "results", "results": "needs"}
MODELS = {"needs": NeedIn, "results": ResultIn}
CLUSTER_BOOST = 0.03  # relative score boost for the same cluster
DISTRICT_BOOST = 0.02  # and for the same district


SORTABLE = {
    "needs": ("id", "title", "posted_at", "created_at", "updated_at", "deadline", "budget", "industry", "district",
              "status"),
    "results": ("id", "title", "posted_at", "created_at", "updated_at", "price", "trl", "industry", "district",
                "status"),
}


class BatchRunning(RuntimeError):
    """A batch run was asked for while another is going."""


def document_text(side: str, row: dict[str, Any]) -> str:
    """The text a listing is indexed by (dense passage and BM25 document)."""
    body = row.get("description") if side == "needs" else row.get("abstract")
    parts = [row.get("title") or "", body or "", "，".join(row.get("keywords") or [])]
    if side == "results" and row.get("application_fields"):
        parts.append(row["application_fields"])
    return "。".join(p for p in parts if p)


def query_views(side: str, row: dict[str, Any]) -> tuple[list[str], list[float], str]:
    """(dense query views, their weights, lexical query text) for a listing used as a query.

    The title alone is a sharp dense query; the full text adds the substance a short title leaves out.
    """
    body = row.get("description") if side == "needs" else row.get("abstract")
    title = row.get("title") or ""
    full = "。".join(p for p in [title, body or "", "，".join(row.get("keywords") or [])] if p)
    views, weights = [title], [1.0]
    if full != title:
        views.append(full)
        weights.append(1.0)
    return views, weights, f"{title}。{title}。{full}"


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
    confidence: float | None = None  # calibrated probability the pair is relevant (see calibration.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Catalogue:
    """Live indexes of both sides, each side knowing the other's dense index (for hubness)."""

    sides: dict[str, CatalogueSide]

    def __post_init__(self) -> None:
        self.link()

    def link(self) -> None:
        """Point each side at the opposite side's dense index (call again after replacing a side)."""
        if {"needs", "results"} <= self.sides.keys():
            self.sides["needs"].other = self.sides["results"].dense
            self.sides["results"].other = self.sides["needs"].dense


class MatchService:
    """Catalogue, indexes and matching behind one object; thread-safe (writes serialised)."""

    def __init__(self, settings: Settings | None = None, encoder: Encoder | None = None) -> None:
        self.settings = settings or get_settings()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.settings.db_path)
        self.vocab: Vocab = load_vocab(self.settings.vocab_dir)
        self._encoder = encoder
        self._catalogue: Catalogue | None = None
        self._reranker: learn.Reranker | None = None
        self._calibration: calibration.Calibration | bool | None = None
        self._write = threading.RLock()
        self._batch = threading.Lock()
        # matching is CPU-bound Python and numpy: more concurrent queries than cores only thrash the GIL
        self._slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))

    # -- loading --------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        """The dense encoder (with its embedding cache), loaded on first use."""
        if self._encoder is None:
            inner = get_encoder(self.settings.encoder, self.settings.st_model, self.settings.encode_batch)
            self._encoder = CachedEncoder(inner, self.settings.cache_path)
        elif not isinstance(self._encoder, CachedEncoder):
            self._encoder = CachedEncoder(self._encoder, self.settings.cache_path)
        return self._encoder

    @property
    def catalogue(self) -> Catalogue:
        """Both sides' indexes, loaded (and reconciled with the store) on first use."""
        if self._catalogue is None:
            with self._write:
                if self._catalogue is None:
                    self._catalogue = Catalogue({s: self._load_side(s) for s in LISTING_TABLES})
        return self._catalogue

    @property
    def ready(self) -> bool:
        return self._catalogue is not None and self._encoder is not None

    def load(self) -> None:
        """Load encoder and indexes now (the API does this in its lifespan)."""
        _ = self.encoder, self.catalogue

    def _load_side(self, side: str, progress: Progress | None = None) -> CatalogueSide:
        enc = self.encoder
        dense = VectorIndex.load(self.settings.index_dir, side, enc.name, enc.dim, self.settings.ivf_nprobe)
        rows = self.store.rows(side)
        lexical = LexicalIndex(self.settings.lexical_tokenizer)
        lexical.add([r["id"] for r in rows], [document_text(side, r) for r in rows])
        lexical.idf("")  # build the BM25 matrix now, not on the first query
        learn_terms(k for r in rows for k in r.get("keywords") or [])
        if dense is None:
            dense = VectorIndex(enc.dim, enc.name, self.settings.index_kind, self.settings.ivf_nprobe)
            self._encode_into(side, dense, rows, progress, build=True)
            dense.save(self.settings.index_dir, side, self._synced(side))
        else:
            self._reconcile(side, dense, rows)
        return CatalogueSide(side, dense, lexical)

    def _reconcile(self, side: str, dense: VectorIndex, rows: list[dict[str, Any]]) -> None:
        """Bring a loaded index in line with the store (after a crash between commit and index save)."""
        have = set(dense.ids())
        want = {r["id"] for r in rows}
        synced = dense.synced_at or ""
        stale = [r for r in rows if r["id"] not in have or (r.get("updated_at") or "") > synced]
        extra = sorted(have - want)
        if stale or extra:
            dense.remove(extra)
            self._encode_into(side, dense, stale)
            dense.save(self.settings.index_dir, side, self._synced(side))

    def _synced(self, side: str) -> str:
        row = self.store.query(f"select max(updated_at) as m from [{side}]")
        return (row[0]["m"] if row else None) or ""

    def _encode_into(self, side: str, dense: VectorIndex, rows: Sequence[dict[str, Any]],
                     progress: Progress | None = None, build: bool = False) -> None:
        ids, vectors = [], []
        step = 256
        for start in range(0, len(rows), step):
            chunk = rows[start:start + step]
            vectors.append(self.encoder.encode_documents([document_text(side, r) for r in chunk]))
            ids.extend(r["id"] for r in chunk)
            if progress:
                progress(min(start + step, len(rows)), len(rows))
        mat = np.vstack(vectors) if vectors else np.zeros((0, dense.dim), dtype=np.float32)
        if build:
            dense.build(ids, mat)
        else:
            dense.add(ids, mat)

    def rebuild_index(self, sides: Iterable[str] = LISTING_TABLES, progress: Progress | None = None) -> dict:
        """Re-encode (through the cache) and rebuild the indexes of these sides from the store."""
        out = {}
        with self._write:
            cat = self._catalogue or Catalogue({})
            for side in sides:
                rows = self.store.rows(side)
                dense = VectorIndex(self.encoder.dim, self.encoder.name, self.settings.index_kind,
                                    self.settings.ivf_nprobe)
                self._encode_into(side, dense, rows, progress, build=True)
                dense.save(self.settings.index_dir, side, self._synced(side))
                lexical = LexicalIndex(self.settings.lexical_tokenizer)
                lexical.add([r["id"] for r in rows], [document_text(side, r) for r in rows])
                cat.sides[side] = CatalogueSide(side, dense, lexical)
                out[side] = len(dense)
            if len(cat.sides) == len(LISTING_TABLES):
                cat.link()
                self._catalogue = cat
        return out

    # -- organisations --------------------------------------------------------------------
    def add_org(self, data: OrgIn | dict[str, Any], actor: str = "system") -> dict[str, Any]:
        """Create an organisation (names are unique)."""
        org = data if isinstance(data, OrgIn) else OrgIn.model_validate(data)
        with self._write:
            if self.store.find("organisations", name=org.name):
                raise Conflict(f"an organisation called {org.name!r} exists already")
            org_id = self.store.insert("organisations", org.model_dump())
            self.store.audit(actor, "create", "organisations", org_id, {"name": org.name})
        return self.store.get("organisations", org_id)

    def get_org(self, org_id: int) -> dict[str, Any]:
        return self.store.get("organisations", org_id)

    def list_orgs(self, kind: str | None = None, limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
        where, params = ("kind = ?", [kind]) if kind else ("", [])
        return (self.store.rows("organisations", where, params, "name", limit, offset),
                self.store.count("organisations", where, params))

    # -- listings -------------------------------------------------------------------------
    def _row(self, side: str, model: NeedIn | ResultIn) -> dict[str, Any]:
        row = model.model_dump()
        org = row.pop("org", None)
        if org:
            kind = "firm" if side == "needs" else "institute"
            row["org_id"] = self.store.org_id(org, kind)
        return row

    def add_listings(self, side: str, items: Sequence[NeedIn | ResultIn | dict[str, Any]], actor: str = "system",
                     progress: Progress | None = None) -> list[int]:
        """Insert or update (by ref) many listings in one transaction, then index them; all or nothing."""
        model = MODELS[side]
        items = [i if isinstance(i, model) else model.model_validate(i) for i in items]
        cat = self.catalogue
        with self._write:
            ids: list[int] = []
            with self.store.transaction():
                for item in items:
                    row = self._row(side, item)
                    existing = self.store.find(side, ref=item.ref) if item.ref else None
                    if existing:
                        self.store.update(side, existing["id"], row)
                        ids.append(existing["id"])
                        self.store.audit(actor, "update", side, existing["id"], {"ref": item.ref})
                    else:
                        new_id = self.store.insert(side, row)
                        ids.append(new_id)
                        self.store.audit(actor, "create", side, new_id, {"ref": item.ref})
                rows = list(self.store.get_many(side, ids).values())
                # encode inside the transaction: an encoder failure rolls the rows back
                vectors = []
                for start in range(0, len(rows), 256):
                    chunk = rows[start:start + 256]
                    vectors.append(self.encoder.encode_documents([document_text(side, r) for r in chunk]))
                    if progress:
                        progress(min(start + 256, len(rows)), len(rows))
            mat = np.vstack(vectors) if vectors else np.zeros((0, self.encoder.dim), dtype=np.float32)
            s = cat.sides[side]
            s.dense.add([r["id"] for r in rows], mat)
            s.lexical.add([r["id"] for r in rows], [document_text(side, r) for r in rows])
            s.dense.save(self.settings.index_dir, side, self._synced(side))
            learn_terms(k for r in rows for k in r.get("keywords") or [])
        return ids

    def add_need(self, data: NeedIn | dict[str, Any], actor: str = "system") -> dict[str, Any]:
        """Post one need; it is searchable as soon as this returns."""
        return self.store.get("needs", self.add_listings("needs", [data], actor)[0])

    def add_result(self, data: ResultIn | dict[str, Any], actor: str = "system") -> dict[str, Any]:
        """List one research result; it is searchable as soon as this returns."""
        return self.store.get("results", self.add_listings("results", [data], actor)[0])

    def update_listing(self, side: str, item_id: int, changes: dict[str, Any], actor: str = "system"
                       ) -> dict[str, Any]:
        """Change fields of a listing (validated like a new one) and re-index it."""
        current = self.get_listing(side, item_id)
        merged = {k: current[k] for k in MODELS[side].model_fields if k in current}
        merged["org"] = self.store.get("organisations", current["org_id"])["name"] if current.get("org_id") else None
        if side == "results" and "trl" in changes:
            merged.pop("maturity_label", None)  # a new TRL gets its own label
        merged.update(changes)
        model = MODELS[side].model_validate(merged)
        cat = self.catalogue
        with self._write:
            with self.store.transaction():
                self.store.update(side, item_id, self._row(side, model))
                self.store.audit(actor, "update", side, item_id, {"fields": sorted(changes)})
                row = self.store.get(side, item_id)
                vec = self.encoder.encode_documents([document_text(side, row)])
            s = cat.sides[side]
            s.dense.add([item_id], vec)
            s.lexical.add([item_id], [document_text(side, row)])
            s.dense.save(self.settings.index_dir, side, self._synced(side))
            learn_terms(row.get("keywords") or [])
        return row

    def delete_listing(self, side: str, item_id: int, actor: str = "system") -> None:
        """Remove a listing, its candidates and its index entry."""
        self.get_listing(side, item_id)
        cat = self.catalogue
        col = "need_id" if side == "needs" else "result_id"
        with self._write:
            with self.store.transaction():
                for table in ("pairings",):
                    for r in self.store.rows(table, f"{col} = ?", [item_id]):
                        self.store.delete(table, r["id"])
                for cand in self.store.rows("candidates", f"{col} = ?", [item_id]):
                    for rev in self.store.rows("reviews", "candidate_id = ?", [cand["id"]]):
                        self.store.delete("reviews", rev["id"])
                    self.store.delete("candidates", cand["id"])
                if side == "needs":
                    for app in self.store.rows("challenge_applications", "need_id = ?", [item_id]):
                        self.store.delete("challenge_applications", app["id"])
                self.store.delete(side, item_id)
                self.store.audit(actor, "delete", side, item_id)
            s = cat.sides[side]
            s.dense.remove([item_id])
            s.lexical.remove([item_id])
            s.dense.save(self.settings.index_dir, side, self._synced(side))

    def get_listing(self, side: str, item_id: int) -> dict[str, Any]:
        if side not in LISTING_TABLES:
            raise ValueError(f"unknown side {side!r}; use needs or results")
        return self.store.get(side, item_id)

    def list_listings(self, side: str, filters: dict[str, Any] | None = None, text: str | None = None,
                      sort: str = "-id", limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """A page of listings matching hard filters and a substring, with the total count."""
        where, params = listing_where(side, filters, text)
        allowed = SORTABLE[side]
        col = sort.lstrip("-")
        if col not in allowed:
            raise ValueError(f"cannot sort by {col!r}; use one of {', '.join(sorted(allowed))}")
        order = f"[{col}] {'desc' if sort.startswith('-') else 'asc'}, id"
        return (self.store.rows(side, where, params, order, limit, offset), self.store.count(side, where, params))

    # -- matching -------------------------------------------------------------------------
    def _allowed(self, side: str, filters: dict[str, Any] | None) -> list[int] | None:
        if not filters or not any(v not in (None, [], "") for v in filters.values()):
            return None
        where, params = listing_where(side, filters)
        return self.store.ids(side, where, params)

    def _query(self, side: str, row: dict[str, Any]) -> Query:
        views, weights, lexical = query_views(side, row)
        return Query(self.encoder.encode_queries(views), lexical, weights)

    def _matches(self, target: str, query: Query, query_row: dict[str, Any] | None, top_k: int,
                 filters: dict[str, Any] | None, method: str | None, exclude: set[int] = frozenset(),
                 explain: bool = True) -> list[Match]:
        with self._slots:
            return self._matches_now(target, query, query_row, top_k, filters, method, exclude, explain)

    def _matches_now(self, target: str, query: Query, query_row: dict[str, Any] | None, top_k: int,
                     filters: dict[str, Any] | None, method: str | None, exclude: set[int],
                     explain: bool) -> list[Match]:
        method_obj = get_method(method or self.settings.method)
        side = self.catalogue.sides[target]
        allowed = self._allowed(target, filters)
        pool_k = top_k + len(exclude) + 20
        model = None
        if method_obj.name == "learned":
            model = self.reranker
            if model is None:
                raise ValueError("method 'learned' needs a model trained on brokers' decisions: run `techmatch train`")
            pool_k = max(pool_k, RERANK_POOL)
        ranked = rank(side, query, method_obj, pool_k, allowed)
        calibrated = self.calibration if model is None and method_obj.hub else None
        if calibrated is not None:
            calibration.attach(ranked, calibrated)  # against the best candidates, excluded ones included
        scored = [s for s in ranked if s.id not in exclude]
        rows = self.store.get_many(target, [s.id for s in scored])
        if model is not None:
            fits = [self._fits(target, query_row, rows.get(s.id)) for s in scored]
            scored = learn.rerank(scored, model, fits)
        out: list[Match] = []
        for s in scored:
            item = rows.get(s.id)
            if item is None:
                continue
            comps = dict(s.components)
            comps["fused"] = s.score
            boost = 0.0
            if query_row is not None:
                if query_row.get("industry") and query_row.get("industry") == item.get("industry") \
                        and item.get("industry") != "other":
                    boost += CLUSTER_BOOST
                if query_row.get("district") and query_row.get("district") == item.get("district"):
                    boost += DISTRICT_BOOST
            comps["boost"] = boost
            # boosts are relative, so they weigh the same whatever the method's score scale
            out.append(Match(s.id, target, 0, s.score * (1 + boost), comps, item,
                             confidence=comps.get("confidence")))
        out.sort(key=lambda m: -m.score)
        out = out[:top_k]
        for i, m in enumerate(out, start=1):
            m.rank = i
            if explain:
                m.explanation = self.explain_pair(target, query_row, m.item, query.lexical_text)
        return out

    def _idf(self, term: str) -> float:
        """Rarity of a term across both sides of the catalogue (generic words score low)."""
        sides = self.catalogue.sides
        total = len(sides["needs"].lexical) + len(sides["results"].lexical)
        if not total:
            return 0.0
        return sum(s.lexical.idf(term) * len(s.lexical) for s in sides.values()) / total

    def _fits(self, target: str, query_row: dict[str, Any] | None, item: dict[str, Any] | None
              ) -> dict[str, Any] | None:
        """Field fits of a pair (cheap: no text processing), or None for free-text queries."""
        if query_row is None or item is None:
            return None
        need, result = (query_row, item) if target == "results" else (item, query_row)
        return explain_mod.field_fits(need, result, self.vocab)

    @property
    def calibration(self) -> calibration.Calibration | None:
        """The model turning the hybrid's scores into a 0–1 confidence, for the current encoder (None: no model)."""
        if self._calibration is None:
            self._calibration = calibration.load(self.settings.index_dir, self.encoder.name) or False
        return self._calibration or None

    # -- learning from brokers ------------------------------------------------------------
    @property
    def reranker(self) -> learn.Reranker | None:
        """The current model trained on brokers' decisions, if any."""
        if self._reranker is None:
            self._reranker = learn.Reranker.load(self.settings.index_dir)
        return self._reranker

    def training_data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(features, confirmed?, need id) of every decided candidate."""
        rows = self.store.rows("candidates", "status in ('confirmed', 'rejected')")
        needs = self.store.get_many("needs", sorted({r["need_id"] for r in rows}))
        results = self.store.get_many("results", sorted({r["result_id"] for r in rows}))
        x, y, groups = [], [], []
        for r in rows:
            need, result = needs.get(r["need_id"]), results.get(r["result_id"])
            if need is None or result is None:
                continue
            fits = explain_mod.field_fits(need, result, self.vocab)
            x.append(learn.feature_row(r["components"], fits, r["rank"] or 1))
            y.append(int(r["status"] == "confirmed"))
            groups.append(r["need_id"])
        return np.asarray(x, dtype=float).reshape(-1, len(learn.FEATURES)), np.asarray(y), np.asarray(groups)

    def train(self, min_decisions: int = 20, actor: str = "system") -> dict[str, Any]:
        """Fit the reranker on brokers' decisions and store it beside the index (a new version)."""
        x, y, groups = self.training_data()
        if len(y) < min_decisions:
            raise ValueError(f"only {len(y)} decisions so far; at least {min_decisions} are needed to train")
        model = learn.fit(x, y, groups)
        path = model.save(self.settings.index_dir)
        self._reranker = model
        self.store.audit(actor, "train", "reranker", model.meta["version"], model.meta)
        return {**model.meta, "path": path.name}

    def explain_pair(self, target: str, query_row: dict[str, Any] | None, item: dict[str, Any],
                     query_text: str) -> dict[str, Any]:
        """Shared terms, best sentence and field fits of a query listing (or free text) and an item."""
        idf = self._idf
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

    def match_listing(self, side: str, item_id: int, top_k: int | None = None,
                      filters: dict[str, Any] | None = None, method: str | None = None) -> list[Match]:
        """The best counterparts of a need (results) or of a result (needs)."""
        row = self.get_listing(side, item_id)
        return self._matches(OTHER[side], self._query(side, row), row, top_k or self.settings.top_k, filters, method)

    def match_need(self, need_id: int, **kw: Any) -> list[Match]:
        return self.match_listing("needs", need_id, **kw)

    def match_result(self, result_id: int, **kw: Any) -> list[Match]:
        return self.match_listing("results", result_id, **kw)

    def search(self, text: str, side: str = "results", top_k: int | None = None,
               filters: dict[str, Any] | None = None, method: str | None = None) -> list[Match]:
        """Free text against one side (e.g. a firm describing its problem in a sentence)."""
        if side not in LISTING_TABLES:
            raise ValueError(f"unknown side {side!r}; use needs or results")
        text = (text or "").replace("\x00", "").strip()
        if not text:
            raise ValueError("the search text is empty")
        query = Query(self.encoder.encode_queries([text]), text)
        return self._matches(side, query, None, top_k or self.settings.top_k, filters, method)

    # -- batch ----------------------------------------------------------------------------
    def batch_match(self, top_k: int = 10, method: str | None = None, actor: str = "system",
                    progress: Progress | None = None, run_id: int | None = None) -> dict[str, Any]:
        """Compute candidates for every open need and store them for review; one run at a time.

        Candidates already confirmed or rejected keep their decision; pending ones get fresh scores.
        """
        if not self._batch.acquire(blocking=False):
            raise BatchRunning("a batch run is already going; wait for it to finish")
        try:
            method = method or self.settings.method
            get_method(method)
            needs = self.store.rows("needs", "status = ?", ["open"])
            if run_id is None:
                run_id = self.start_batch(top_k, method, actor)
            self.store.update("batch_runs", run_id, {"status": "running", "needs_total": len(needs)})
            total = 0
            try:
                for i, need in enumerate(needs, start=1):
                    matches = self.match_listing("needs", need["id"], top_k=top_k, method=method)
                    total += self._store_candidates(run_id, need["id"], matches, method)
                    self.store.update("batch_runs", run_id, {"needs_done": i, "candidates": total})
                    if progress:
                        progress(i, len(needs))
            except Exception as exc:
                self.store.update("batch_runs", run_id, {"status": "failed", "error": str(exc)[:500],
                                                         "finished_at": now()})
                raise
            self.store.update("batch_runs", run_id, {"status": "done", "finished_at": now()})
            self.store.audit(actor, "batch_match", "batch_runs", run_id, {"needs": len(needs), "candidates": total})
            return self.store.get("batch_runs", run_id)
        finally:
            self._batch.release()

    def start_batch(self, top_k: int, method: str | None, actor: str) -> int:
        """Register a batch run (status queued) and return its id."""
        return self.store.insert("batch_runs", {"status": "queued", "method": method or self.settings.method,
                                                "top_k": top_k, "needs_total": 0, "needs_done": 0,
                                                "candidates": 0, "started_at": now(), "actor": actor})

    @property
    def batch_running(self) -> bool:
        return self._batch.locked()

    def _store_candidates(self, run_id: int, need_id: int, matches: list[Match], method: str) -> int:
        with self._write, self.store.transaction():
            for m in matches:
                row = {"run_id": run_id, "need_id": need_id, "result_id": m.id, "rank": m.rank, "score": m.score,
                       "confidence": m.confidence, "method": method, "components": m.components,
                       "explanation": m.explanation}
                existing = self.store.find("candidates", need_id=need_id, result_id=m.id)
                if existing is None:
                    self.store.insert("candidates", {**row, "status": "pending"})
                elif existing["status"] == "pending":
                    self.store.update("candidates", existing["id"], row)
        return len(matches)

    # -- demo -----------------------------------------------------------------------------
    def load_demo(self, progress: Progress | None = None) -> dict[str, int]:
        """Load the demo catalogue from `data/demo/` (organisations, needs, results) and index it."""
        from .importer import import_file

        counts: dict[str, int] = {}
        for kind in ("organisations", "needs", "results"):
            for path in sorted(self.settings.demo_dir.glob(f"{kind}*.jsonl")):
                report = import_file(self, path, kind, actor="demo", progress=progress)
                if report.rejected:
                    raise ValueError(f"demo file {path.name} has invalid rows: {report.rejected[:3]}")
                counts[kind] = counts.get(kind, 0) + report.accepted
        return counts

    # -- helpers for other layers -----------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {t: self.store.count(t) for t in ("organisations", "needs", "results", "candidates", "pairings")}

    def close(self) -> None:
        self.store.close()


__all__ = ["BatchRunning", "Match", "MatchService", "NotFound", "document_text", "query_views"]
