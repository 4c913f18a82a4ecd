"""The one service layer: the CLI, the API and the UI call these methods, never SQL or encoders directly."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import CachedEncoder, Encoder, get_encoder

from . import calibration, learn
from . import explain as explain_mod
from .catalogue import MODELS_SIDE, Follower, LiveCatalogue, process_token
from .documents import document_text, query_views
from .errors import Conflict, Invalid, NotFound, SetupError
from .ranking import RERANK_POOL, SLACK, Query, final_order, get_method, shortlist
from .schemas import NeedIn, OrgIn, ResultIn
from .settings import Settings, get_settings
from .store import LISTING_TABLES, Store, listing_where
from .vocab import Vocab, load_vocab

Progress = Callable[[int, int], None]
OTHER = {"needs": "results", "results": "needs"}
MODELS = {"needs": NeedIn, "results": ResultIn}


SORTABLE = {
    "needs": ("id", "title", "posted_at", "created_at", "updated_at", "deadline", "budget", "industry", "district",
              "status"),
    "results": ("id", "title", "posted_at", "created_at", "updated_at", "price", "trl", "industry", "district",
                "status"),
}


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


class MatchService:
    """The catalogue (store + live indexes) and matching behind one object, for the CLI, the API and the UI.

    Thread-safe. Writes commit to the store (whose change log is the durability) and are then applied to this
    process's indexes; other processes apply them from the same log (see catalogue.py).
    """

    def __init__(self, settings: Settings | None = None, encoder: Encoder | None = None) -> None:
        self.settings = settings or get_settings()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.settings.db_path)
        self.vocab: Vocab = load_vocab(self.settings.vocab_dir)
        self.owner = process_token()
        self._encoder = encoder
        self._catalogue: LiveCatalogue | None = None
        self._follower: Follower | None = None
        self._reranker: learn.Reranker | None = None
        self._calibration: calibration.Calibration | bool | None = None
        self._load_lock = threading.Lock()
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
    def catalogue(self) -> LiveCatalogue:
        """Both sides' live indexes: loaded on first use (snapshot + log tail), then brought up to date with the
        store's change log on every access, so a ranking read never misses a committed write."""
        cat = self._catalogue
        if cat is None:
            with self._load_lock:
                if self._catalogue is None:
                    fresh = LiveCatalogue(self.store, self.encoder, self.settings, self.owner, self._models_changed)
                    fresh.load()
                    self._catalogue = fresh
                cat = self._catalogue
        cat.sync()
        return cat

    @property
    def schema_version(self) -> int:
        """The catalogue's schema version (migrations applied)."""
        return self.store.version

    @property
    def ready(self) -> bool:
        return self._catalogue is not None and self._encoder is not None

    def load(self) -> None:
        """Load encoder, indexes and model files now (the API and the workbench do this at start).

        A corrupt calibration or reranker file is a start-up error here, not a failure of every later request.
        """
        _ = self.encoder, self.catalogue
        try:
            _ = self.calibration, self.reranker
        except Exception as exc:
            raise SetupError(f"a model file in {self.settings.index_dir} cannot be read ({exc}); remove it or "
                             "fit it again (`techmatch calibrate` / `techmatch train`)") from exc

    def follow(self) -> None:
        """Keep following the change log in the background (a long-running process: API, workbench)."""
        if self._follower is None:
            self._follower = Follower(lambda: self.catalogue, self.settings.follow_interval).start()

    def _models_changed(self) -> None:
        """Another process wrote a new reranker or calibration: read it again on next use."""
        self._reranker = None
        self._calibration = None

    @property
    def applied_seq(self) -> int:
        """The change-log sequence this process's indexes reflect (0 before they load)."""
        return self._catalogue.applied if self._catalogue else 0

    def rebuild_index(self, progress: Progress | None = None) -> dict[str, int]:
        """Re-encode (through the cache) and rebuild both indexes from the store, then snapshot them."""
        if self._catalogue is None:
            with self._load_lock:
                self._catalogue = LiveCatalogue(self.store, self.encoder, self.settings, self.owner,
                                                self._models_changed)
                return self._catalogue.rebuild(progress)
        return self._catalogue.rebuild(progress)

    def index_status(self) -> dict[str, Any]:
        """What the indexes hold and how far behind the store they are (for /health and `techmatch index`)."""
        cat = self._catalogue
        last = self.store.last_change()
        out: dict[str, Any] = {"log_seq": last, "applied_seq": cat.applied if cat else 0,
                               "lag": last - (cat.applied if cat else 0)}
        if cat is not None:
            out["snapshot_seq"] = cat.snapshot_seq
            out["counts"] = {side: len(s.dense) for side, s in cat.sides.items()}
        return out

    # -- organisations --------------------------------------------------------------------
    def add_org(self, data: OrgIn | dict[str, Any], actor: str = "system") -> dict[str, Any]:
        """Create an organisation (names are unique)."""
        org = data if isinstance(data, OrgIn) else OrgIn.model_validate(data)
        with self.store.transaction():
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

    def _encode_rows(self, side: str, ids: Sequence[int], progress: Progress | None = None) -> list[dict[str, Any]]:
        """The committed-to-be rows of these ids, their vectors put into the embedding cache (inside the writing
        transaction: an encoder failure rolls the rows back, and every process finds the vectors in the cache)."""
        rows = list(self.store.get_many(side, ids).values())
        for start in range(0, len(rows), 256):
            chunk = rows[start:start + 256]
            self.encoder.encode_documents([document_text(side, r) for r in chunk])
            if progress:
                progress(min(start + 256, len(rows)), len(rows))
        return rows

    def add_listings(self, side: str, items: Sequence[NeedIn | ResultIn | dict[str, Any]], actor: str = "system",
                     progress: Progress | None = None) -> list[int]:
        """Insert or update (by ref) many listings in one transaction; all or nothing, searchable on return."""
        model = MODELS[side]
        items = [i if isinstance(i, model) else model.model_validate(i) for i in items]
        cat = self.catalogue
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
            self._encode_rows(side, ids, progress)
        cat.sync()
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
        with self.store.transaction():
            self.store.update(side, item_id, self._row(side, model))
            self.store.audit(actor, "update", side, item_id, {"fields": sorted(changes)})
            row = self._encode_rows(side, [item_id])[0]
        cat.sync()
        return row

    def delete_listing(self, side: str, item_id: int, actor: str = "system") -> None:
        """Remove a listing, its candidates and its index entry."""
        self.get_listing(side, item_id)
        cat = self.catalogue
        with self.store.transaction():
            self.store.delete_listing(side, item_id)
            self.store.audit(actor, "delete", side, item_id)
        cat.sync()

    def find_by_ref(self, side: str, ref: str) -> dict[str, Any] | None:
        """The listing of a side with this external reference, if any."""
        if side not in LISTING_TABLES:
            raise Invalid(f"unknown side {side!r}; use needs or results")
        return self.store.find(side, ref=ref)

    def get_listing(self, side: str, item_id: int) -> dict[str, Any]:
        if side not in LISTING_TABLES:
            raise Invalid(f"unknown side {side!r}; use needs or results")
        return self.store.get(side, item_id)

    def list_listings(self, side: str, filters: dict[str, Any] | None = None, text: str | None = None,
                      sort: str = "-id", limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """A page of listings matching hard filters and a substring, with the total count."""
        where, params = listing_where(side, filters, text)
        allowed = SORTABLE[side]
        col = sort.lstrip("-")
        if col not in allowed:
            raise Invalid(f"cannot sort by {col!r}; use one of {', '.join(sorted(allowed))}")
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
        model = None
        if method_obj.name == "learned":
            model = self.reranker
            if model is None:
                raise Invalid("method 'learned' needs a model trained on brokers' decisions: run `techmatch train`")
        ranked = shortlist(side, query, method_obj, top_k, allowed, len(exclude))
        calibrated = self.calibration if model is None and method_obj.hub else None
        if calibrated is not None:
            calibration.attach(ranked, calibrated)  # against the best candidates, excluded ones included
        scored = [s for s in ranked if s.id not in exclude][:max(top_k + SLACK, RERANK_POOL if model else 0)]
        rows = self.store.get_many(target, [s.id for s in scored])
        if model is not None:
            fits = [self._fits(target, query_row, rows.get(s.id)) for s in scored]
            scored = learn.rerank(scored, model, fits)
        out: list[Match] = []
        for s, boost, final in final_order(scored, query_row, rows):
            comps = {**s.components, "fused": s.score, "boost": boost}
            out.append(Match(s.id, target, 0, final, comps, rows[s.id], confidence=comps.get("confidence")))
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

    def save_calibration(self, model: calibration.Calibration) -> Path:
        """Store a fitted confidence model beside the index; every process reads it again."""
        path = model.save(self.settings.index_dir)
        self._calibration = None
        self.store.log_change(MODELS_SIDE, 0, "reload")
        return path

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
            raise Invalid(f"only {len(y)} decisions so far; at least {min_decisions} are needed to train")
        model = learn.fit(x, y, groups)
        path = model.save(self.settings.index_dir)
        self._reranker = model
        with self.store.transaction():
            self.store.audit(actor, "train", "reranker", model.meta["version"], model.meta)
            self.store.log_change(MODELS_SIDE, int(model.meta["version"]), "reload")  # other processes reload it
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
            raise Invalid(f"unknown side {side!r}; use needs or results")
        text = (text or "").replace("\x00", "").strip()
        if not text:
            raise Invalid("the search text is empty")
        query = Query(self.encoder.encode_queries([text]), text)
        return self._matches(side, query, None, top_k or self.settings.top_k, filters, method)

    # -- batch ----------------------------------------------------------------------------
    def batch_match(self, top_k: int = 10, method: str | None = None, actor: str = "system",
                    progress: Progress | None = None) -> dict[str, Any]:
        """Candidates for every open need, stored for review (see batches.py); one run at a time anywhere."""
        from . import batches

        return batches.run_now(self, top_k, method, actor, progress)

    # -- demo -----------------------------------------------------------------------------
    def load_demo(self, progress: Progress | None = None) -> dict[str, int]:
        """Load the demo catalogue from `data/demo/` (organisations, needs, results) and index it."""
        from .importer import import_file

        counts: dict[str, int] = {}
        for kind in ("organisations", "needs", "results"):
            for path in sorted(self.settings.demo_dir.glob(f"{kind}*.jsonl")):
                report = import_file(self, path, kind, actor="demo", progress=progress)
                if report.rejected:
                    raise Invalid(f"demo file {path.name} has invalid rows: {report.rejected[:3]}")
                counts[kind] = counts.get(kind, 0) + report.accepted
        return counts

    # -- helpers for other layers -----------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {t: self.store.count(t) for t in ("organisations", "needs", "results", "candidates", "pairings")}

    def close(self) -> None:
        """Stop following the log, leave a snapshot if this process holds changes none has, close the store."""
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        if self._catalogue is not None and self._catalogue.applied > self._catalogue.snapshot_seq:
            try:
                self._catalogue.snapshot()
            except Exception:  # the log still holds every change: the next start replays it
                logging.getLogger("techmatch").exception("snapshot at close failed")
        self.store.close()


__all__ = ["Match", "MatchService", "NotFound", "document_text", "query_views"]
