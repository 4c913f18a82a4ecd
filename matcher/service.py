"""The one service layer: the CLI, the API and the workbench call it (and the small services beside it: review,
accounts, batches, importer, figures), never SQL or encoders directly.

MatchService ties together the store (the truth), the encoder, the live catalogue (this process's indexes, following
the store's change log) and the matcher (rank → confidence → rerank → boosts → explain).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from embeddings import CachedEncoder, Encoder
from matcher.access.policy import Principal, can_see_confidential, need_view, outsider_scope, redact_match
from matcher.catalogue import MODELS_SIDE, Follower, Keeper, LiveCatalogue, process_token
from matcher.catalogue.live import ENCODE_CHUNK, PROGRESS_CHUNK
from matcher.errors import Conflict, Forbidden, Invalid, NotFound, SetupError
from matcher.ingest.schemas import NeedIn, OrgIn, ResultIn
from matcher.ingest.vocab import Vocab, load_vocab
from matcher.learning import calibration
from matcher.learning.models import Models
from matcher.matching import duplicates
from matcher.matching.matcher import OTHER, Match, Matcher
from matcher.periodic import Periodic
from matcher.retrieval.documents import document_text, query_views
from matcher.settings import Database, Settings, get_settings
from matcher.store import AVAILABLE, LISTING_TABLES, Outsider, open_store

Progress = Callable[[int, int], None]
MODELS = {"needs": NeedIn, "results": ResultIn}
SORTABLE = {
    "needs": ("id", "title", "posted_at", "created_at", "updated_at", "deadline", "budget", "industry", "district",
              "status"),
    "results": ("id", "title", "posted_at", "created_at", "updated_at", "price", "trl", "industry", "district",
                "status"),
}
log = logging.getLogger("techmatch")


class MatchService:
    """The catalogue (store + live indexes) and matching behind one object. Thread-safe.

    Writes commit to the store, whose change log is the durability, and are then applied to this process's indexes;
    every other process on the same store applies them from the same log (see matcher.catalogue).
    """

    def __init__(self, settings: Settings | None = None, encoder: Encoder | None = None) -> None:
        self.settings = settings or get_settings()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = open_store(self.settings.store_url, self.settings.database_pool)
        self.vocab: Vocab = load_vocab(self.settings.vocab_dir)
        self.owner = process_token()
        self.models = Models(self.settings.index_dir, lambda: self.encoder.name,
                             self.settings.make_float_model)
        self.matcher = Matcher(self.store, self.vocab, self.settings.method, lambda: self.encoder,
                               lambda: self.catalogue, self.models)
        self._encoder = encoder
        self._catalogue: LiveCatalogue | None = None
        self._background: list[Periodic] = []  # the log follower and the hubness keeper of a long-running process
        self._load_lock = threading.Lock()
        self.load_error: Exception | None = None  # what a background load (load_in_background) failed with

    # -- loading --------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        """The dense encoder (with its embedding cache), loaded on first use."""
        if self._encoder is None:
            inner = self.settings.make_encoder()
            self._encoder = CachedEncoder(inner, self.settings.cache_path)
        elif not isinstance(self._encoder, CachedEncoder):
            self._encoder = CachedEncoder(self._encoder, self.settings.cache_path)
        return self._encoder

    def batch_method(self) -> str:
        """The method of a batch run nobody chose one for: the cross-encoder's when one is installed here and can
        run (loads it; one that cannot is logged and the default method serves)."""
        if self.settings.batch_method:
            return self.settings.batch_method
        if self.models.cross_encoder_installed:
            if self.models.cross_encoder is not None:
                return "hybrid-ce"
            log.warning("batch runs use %s: %s", self.settings.method, self.models.cross_encoder_error)
        return self.settings.method

    def _new_catalogue(self) -> LiveCatalogue:
        return LiveCatalogue(self.store, self.encoder, self.settings, self.owner, self.models.forget)

    @property
    def catalogue(self) -> LiveCatalogue:
        """Both sides' live indexes: loaded on first use (snapshot + log tail), then brought up to date with the
        store's change log on every access, so a ranking read never misses a committed write."""
        cat = self._catalogue
        if cat is None:
            with self._load_lock:
                if self._catalogue is None:
                    fresh = self._new_catalogue()
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
            _ = self.models.calibration, self.models.reranker
        except Exception as exc:
            raise SetupError(f"a model file in {self.settings.index_dir} cannot be read ({type(exc).__name__}: "
                             f"{exc}); remove it or fit it again (`techmatch calibrate` / `techmatch train`)") from exc

    def load_in_background(self, *workers: Callable[[MatchService], Any]) -> threading.Thread:
        """Load encoder, indexes and model files in a thread, then follow the change log (the workbench: its first
        page, the review queue, needs only the store; a page that ranks waits for the load). A failure is kept in
        `load_error` for the caller to show."""
        def warm() -> None:
            try:
                self.load()
                self.follow(*workers)
            except Exception as exc:  # shown by the caller on its next page, not lost in the thread
                self.load_error = exc
                log.exception("loading the catalogue failed")

        self.load_error = None
        thread = threading.Thread(target=warm, name="techmatch-load", daemon=True)
        thread.start()
        return thread

    def follow(self, *workers: Callable[[MatchService], Any]) -> None:
        """Keep following the change log and every hubness figure computed, in the background (a long-running
        process: API, workbench); `workers` start more background work over this service (e.g. the review queue's
        candidate feed, review.feed.CandidateWorker), stopped with it."""
        if not self._background:
            self._background = [Follower(lambda: self.catalogue, self.settings.follow_interval).start(),
                                Keeper(lambda: self._catalogue).start()]
        running = {type(worker) for worker in self._background}
        self._background += [make(self).start() for make in workers if make not in running]

    @property
    def applied_seq(self) -> int:
        """The change-log sequence this process's indexes reflect (0 before they load)."""
        return self._catalogue.applied if self._catalogue else 0

    def rebuild_index(self, progress: Progress | None = None) -> dict[str, int]:
        """Re-encode (through the cache) and rebuild both indexes from the store, then snapshot them."""
        with self._load_lock:
            if self._catalogue is None:
                self._catalogue = self._new_catalogue()
        return self._catalogue.rebuild(progress)

    def index_status(self) -> dict[str, Any]:
        """What the indexes hold and how far behind the store they are (for /health and `techmatch index`)."""
        cat = self._catalogue
        last = self.store.last_change()
        applied = self.applied_seq
        out: dict[str, Any] = {"log_seq": last, "applied_seq": applied, "lag": last - applied,
                               "snapshot_seq": cat.snapshot_seq if cat else 0, "counts": {}, "index": {},
                               "store": self.store.dialect.name}
        if cat is not None:
            out["counts"] = {side: len(s.dense) for side, s in cat.sides.items()}
            out["index"] = {side: s.dense.effective_kind for side, s in cat.sides.items()}
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

    def upsert_orgs(self, orgs: Sequence[OrgIn], actor: str = "system",
                    audit: tuple[str, str, dict[str, Any]] | None = None) -> tuple[list[int], int]:
        """Create or update organisations by name in one transaction (with `audit`'s line, if given: action,
        entity, detail); (ids of the created ones, how many)."""
        created: list[int] = []
        with self.store.transaction():
            if audit:
                self.store.audit(actor, audit[0], audit[1], None, audit[2])
            for org in orgs:
                existing = self.store.find("organisations", name=org.name)
                if existing:
                    self.store.update("organisations", existing["id"], org.model_dump())
                else:
                    created.append(self.add_org(org, actor)["id"])
        return created, len(created)

    def audit(self, actor: str, action: str, entity: str, entity_id: int | None,
              detail: dict[str, Any] | None = None) -> None:
        """Append a line to the audit log (who did what to which entity, and when)."""
        self.store.audit(actor, action, entity, entity_id, detail)

    def get_org(self, org_id: int) -> dict[str, Any]:
        return self.store.get("organisations", org_id)

    def list_orgs(self, kind: str | None = None, limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
        return self.store.organisations(kind, limit, offset)

    # -- listings -------------------------------------------------------------------------
    def _row(self, side: str, model: NeedIn | ResultIn) -> dict[str, Any]:
        row = model.model_dump()
        org = row.pop("org", None)
        if org:
            row["org_id"] = self.store.org_id(org, "firm" if side == "needs" else "institute")
        return row

    def add_listings(self, side: str, items: Sequence[NeedIn | ResultIn | dict[str, Any]], actor: str = "system",
                     progress: Progress | None = None, audit: tuple[str, str, dict[str, Any]] | None = None,
                     engine: Any = None) -> list[int]:
        """Insert or update (by ref) many listings in one transaction, with `audit`'s line (action, entity, detail)
        when given; all or nothing, searchable on return. `engine` (matcher.bulk.get_engine) encodes elsewhere."""
        model = MODELS[side]
        items = [i if isinstance(i, model) else model.model_validate(i) for i in items]
        cat = self.catalogue
        rows = [item.model_dump() for item in items]
        if engine is not None:  # the engine fills the shared embedding cache; encoding below then finds every vector
            texts = [document_text(side, r) for r in rows]
            engine.encode(self.settings, "document", self.encoder.missing("document", texts), progress)
        cat.encode(side, rows, progress)  # before the write lock is taken
        if side == "needs" and engine is None:
            self._encode_views(side, rows, progress)
        with self.store.transaction():  # organisations created for the listings commit (or not) with them
            ids = cat.upsert(side, [(item.ref, self._row(side, item)) for item in items], actor)
            if audit:
                self.store.audit(actor, audit[0], audit[1], None, audit[2])
        cat.sync()
        return ids

    def _encode_views(self, side: str, rows: Sequence[dict[str, Any]], progress: Progress | None = None) -> None:
        """Put the query views of listings being saved into the embedding cache, so their first match only ranks.

        A need is matched as soon as it is posted (the firm waits for its candidates), and its full-text view is
        the costly part of a match (~120 ms of ~150 at bdci-dev's lengths): encoded here, with its passage vector,
        before the write lock is taken."""
        views = [v for r in rows for v in query_views(side, r)[0]]
        step = PROGRESS_CHUNK if progress else ENCODE_CHUNK
        for start in range(0, len(views), step):
            self.encoder.encode_queries(views[start:start + step])
            if progress is not None:
                progress(min(start + step, len(views)), len(views))

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
        cat.encode(side, [model.model_dump()])
        if side == "needs":
            self._encode_views(side, [model.model_dump()])
        with self.store.transaction():
            row = cat.update(side, item_id, self._row(side, model), actor, sorted(changes))
        cat.sync()
        return row

    def delete_listing(self, side: str, item_id: int, actor: str = "system") -> None:
        """Remove a listing with its candidates, reviews, pairings and applications, and its index entries."""
        self.get_listing(side, item_id)
        self.catalogue.remove(side, item_id, actor)

    def find_by_ref(self, side: str, ref: str) -> dict[str, Any] | None:
        """The listing of a side with this external reference, if any."""
        self._side(side)
        return self.store.find(side, ref=ref)

    # -- duplicates -----------------------------------------------------------------------
    def duplicates(self, side: str, item_id: int, limit: int = 5, viewer: Principal | bool | None = True
                   ) -> list[dict[str, Any]]:
        """Listings of the same side that look like copies of this one (see matching/duplicates.py), closest
        first, leaving out confidential needs `viewer` may not see."""
        row = self.get_listing(side, item_id)
        self.require_readable(side, row, viewer)
        dense = self.catalogue.sides[side].dense
        found = duplicates.find(self.store, dense, side, row, dense.vectors([item_id]), {item_id}, limit * 2,
                                self._unseen(side, viewer))
        return self._seen_duplicates(side, found, viewer)[:limit]

    def draft_duplicates(self, side: str, items: Sequence[NeedIn | ResultIn | dict[str, Any]],
                         viewer: Principal | bool | None = True, progress: Progress | None = None
                         ) -> dict[int, dict[str, Any]]:
        """For listings about to be saved (a form, an import's rows): position → the closest listing already in
        the catalogue it copies (`id`), or the earlier position in `items` it repeats (`row`). A row whose ref
        is already listed is an update of that listing, not a copy of it."""
        self._side(side)
        model = MODELS[side]
        drafts = [i if isinstance(i, model) else model.model_validate(i) for i in items]
        rows, new_orgs = [], {}
        for d in drafts:
            row = d.model_dump()
            name = row.pop("org", None)
            org = self.store.find("organisations", name=name) if name else None
            # an organisation not created yet is none of the catalogue's (a negative id of its own)
            org_id = org["id"] if org else (new_orgs.setdefault(name, -1 - len(new_orgs)) if name else None)
            rows.append({**row, "org_id": org_id})
        cat = self.catalogue
        vectors = cat.encode(side, rows, progress)  # cached: saving them next costs no second encoding
        excludes = [{known["id"]} if d.ref and (known := self.find_by_ref(side, d.ref)) else set() for d in drafts]
        found = duplicates.find_many(self.store, cat.sides[side].dense, side, rows, vectors, excludes, limit=4,
                                     unseen=self._unseen(side, viewer))
        out: dict[int, dict[str, Any]] = {}
        for pos, hits in enumerate(found):
            seen = self._seen_duplicates(side, hits, viewer)
            if seen:
                out[pos] = seen[0]
        for pos, earlier in duplicates.among(rows, vectors).items():
            out.setdefault(pos, {"row": earlier, "title": rows[earlier]["title"]})
        return out

    def _unseen(self, side: str, viewer: Principal | bool | None) -> frozenset[int]:
        """The listings of a side the caller may not read (other organisations' confidential needs): searches made
        for it leave them out, so they take no place among its results."""
        outsider, org = outsider_scope(viewer)
        if side != "needs" or not outsider:
            return frozenset()
        hidden = self.catalogue.sides["needs"].lexical.hidden_ids()
        if org is None or not hidden:
            return hidden
        own, _ = self.list_listings("needs", {"org_id": org, "confidentiality": ["brokers"]}, limit=100_000)
        return hidden - {r["id"] for r in own}

    def _seen_duplicates(self, side: str, found: Sequence[duplicates.Duplicate], viewer: Principal | bool | None
                         ) -> list[dict[str, Any]]:
        outsider, org = outsider_scope(viewer)
        rows = self.store.get_many(side, [d.id for d in found]) if side == "needs" and outsider else {}
        return [d.as_dict() for d in found
                if not (d.id in rows and rows[d.id].get("confidentiality") == "brokers"
                        and (org is None or rows[d.id].get("org_id") != org))]

    def merge_listings(self, side: str, keep: int, drop: int, actor: str = "system") -> dict[str, Any]:
        """Fold a duplicate listing into the one kept: its candidates with their decisions and reviews, its pairings
        and challenge applications move over (see Store.merge_listing), the duplicate is deleted and leaves the
        indexes; audited."""
        self._side(side)
        with self.store.transaction():
            moved = self.store.merge_listing(side, keep, drop)
            if side == "needs":  # the kept need's status follows the pairings it now holds
                stages = {p["stage"] for p in self.store.rows("pairings", {"need_id": keep})}
                status = self.store.get("needs", keep)["status"]
                if stages & {"contract_signed", "closed"} and status in ("open", "matched"):
                    self.store.update("needs", keep, {"status": "solved"})
                elif stages - {"dropped"} and status == "open":
                    self.store.update("needs", keep, {"status": "matched"})
            self.store.audit(actor, "merge", side, keep, {"merged": drop, **moved})
        self.catalogue.sync()
        return {"kept": keep, "merged": drop, **moved}

    def copies(self, side: str, ids: Sequence[int]) -> dict[int, int]:
        """Among these listings, each that copies a lower-numbered one of them → that one (batch runs score and
        propose only the first of a set of copies)."""
        if not ids:
            return {}
        dense = self.catalogue.sides[side].dense
        rows = self.store.get_many(side, list(ids))
        present = [i for i in ids if i in rows]
        found = duplicates.find_many(self.store, dense, side, [rows[i] for i in present], dense.vectors(present),
                                     [{i} for i in present], limit=duplicates.NEIGHBOURS)
        wanted, out = set(present), {}
        for i, hits in zip(present, found, strict=True):
            earlier = [d.id for d in hits if d.id < i and d.id in wanted]
            if earlier:
                out[i] = min(earlier)
        return out

    def without_copies(self, matches: Sequence[Match], side: str = "results") -> list[Match]:
        """A ranking with every listing that copies a higher-ranked one left out (ranks renumbered)."""
        if len(matches) < 2:
            return list(matches)
        vectors = self.catalogue.sides[side].dense.vectors([m.id for m in matches])
        dropped = duplicates.among([m.item for m in matches], vectors)
        kept = [m for pos, m in enumerate(matches) if pos not in dropped]
        return [replace(m, rank=r) for r, m in enumerate(kept, 1)]

    def get_listing(self, side: str, item_id: int, viewer: Principal | bool | None = True) -> dict[str, Any]:
        """One listing (NotFound when unknown) as `viewer` may see it (see `view`)."""
        return self.view(side, self.store.get(self._side(side), item_id), viewer)

    def view(self, side: str, row: dict[str, Any], viewer: Principal | bool | None) -> dict[str, Any]:
        """A listing as `viewer` may see it — the one redaction policy every door gets its listings through: a
        confidential need's text, budget and contacts withheld from an outsider (None: anonymous), with `redacted`
        saying whether anything was; an insider (True: the CLI, batch work) gets the row itself."""
        if viewer is True:
            return row
        if side == "needs":
            return need_view(row, viewer or None, self.vocab.industries.name(row.get("industry") or "other"))
        return {**row, "redacted": False}

    def seen(self, matches: list[Match], viewer: Principal | bool | None, query_need: dict[str, Any] | None = None
             ) -> list[Match]:
        """Matches as `viewer` may see them: a confidential need neither as the item nor through the explanation
        (shared terms, best sentence), whether it is the match or the need matched."""
        if viewer is True:
            return matches
        out = []
        for m in matches:
            d = redact_match(m.to_dict(), viewer or None, query_need,
                             self.vocab.industries.name(m.item.get("industry") or "other"))
            out.append(replace(m, item=d["item"], explanation=d["explanation"]))
        return out

    @staticmethod
    def require_owner(who: Principal, row: dict[str, Any], what: str) -> None:
        """Refuse a change to a listing the caller's organisation does not own (admins may change any)."""
        if who.role != "admin" and row.get("org_id") != who.org_id:
            raise Forbidden(f"this {what} belongs to another organisation")

    @staticmethod
    def _side(side: str) -> str:
        if side not in LISTING_TABLES:
            raise Invalid(f"unknown side {side!r}; use needs or results")
        return side

    def list_listings(self, side: str, filters: dict[str, Any] | None = None, text: str | None = None,
                      sort: str = "-id", limit: int = 50, offset: int = 0, viewer: Principal | bool | None = True
                      ) -> tuple[list[dict[str, Any]], int]:
        """A page of listings matching hard filters and a substring, with the total count.

        `viewer` is the caller (None: anonymous; True: an insider such as the CLI). For a caller who may not read
        confidential needs, the substring is matched against their titles only and hidden fields sort as empty,
        so neither the filter nor the order reveals what the listing withholds.
        """
        outsider, org = outsider_scope(viewer)
        col = sort.lstrip("-")
        if col not in SORTABLE[self._side(side)]:
            raise Invalid(f"cannot sort by {col!r}; use one of {', '.join(sorted(SORTABLE[side]))}")
        rows, total = self.store.listings(side, filters, text, sort, Outsider(org) if outsider else None, limit,
                                          offset)
        return [self.view(side, r, viewer) for r in rows], total

    # -- matching -------------------------------------------------------------------------
    @staticmethod
    def require_readable(side: str, row: dict[str, Any], viewer: Principal | bool | None) -> None:
        """Refuse work on a listing the caller may not read in full (a confidential need of another organisation):
        its matches, copies or topic would be drawn from the text it withholds. Every door (API, workbench, CLI)
        asks here, so none can forget it."""
        if side == "needs" and viewer is not True and not can_see_confidential(viewer or None, row):
            raise Forbidden("this need is confidential: only its owner, brokers and admins may do this")

    @staticmethod
    def _visible(target: str, filters: dict[str, Any] | None, viewer: Principal | bool | None) -> dict[str, Any]:
        """Hard filters plus what the caller may see: an outsider's needs-side ranking leaves out other
        organisations' confidential needs, so no ranking (and no rank) ever reflects text hidden from it."""
        outsider, org = outsider_scope(viewer)
        if target == "needs" and outsider:
            return {**(filters or {}), "visible_to": Outsider(org)}
        return dict(filters or {})

    def match_listing(self, side: str, item_id: int, top_k: int | None = None,
                      filters: dict[str, Any] | None = None, method: str | None = None,
                      viewer: Principal | bool | None = True, explain: bool = True) -> list[Match]:
        """The best counterparts of a need (results) or of a result (needs), as `viewer` may see them
        (`explain=False`: without shared terms and best sentence, for bulk work that explains only what it keeps)."""
        row = self.get_listing(side, item_id)
        self.require_readable(side, row, viewer)
        found = self.matcher.matches(OTHER[side], self.matcher.listing_query(side, row), row,
                                     top_k or self.settings.top_k, self._visible(OTHER[side], filters, viewer), method,
                                     explain=explain, public=outsider_scope(viewer)[0])
        return self.seen(found, viewer, row if side == "needs" else None)

    def match_need(self, need_id: int, **kw: Any) -> list[Match]:
        return self.match_listing("needs", need_id, **kw)

    def match_result(self, result_id: int, **kw: Any) -> list[Match]:
        return self.match_listing("results", result_id, **kw)

    def search(self, text: str, side: str = "results", top_k: int | None = None,
               filters: dict[str, Any] | None = None, method: str | None = None,
               viewer: Principal | bool | None = True, explain: bool = True) -> list[Match]:
        """Free text against one side (e.g. a firm describing its problem in a sentence), as `viewer` may see it."""
        return self.seen(self.matcher.matches(self._side(side), self.matcher.text_query(text), None,
                                              top_k or self.settings.top_k, self._visible(side, filters, viewer),
                                              method, explain=explain, public=outsider_scope(viewer)[0]), viewer)

    # -- models ---------------------------------------------------------------------------
    @property
    def calibration(self) -> calibration.Calibration | None:
        """The confidence model for the current encoder (None: none fitted)."""
        return self.models.calibration

    def save_calibration(self, model: calibration.Calibration) -> Path:
        """Store a fitted confidence model beside the index; every process reads it again."""
        path = model.save(self.settings.index_dir)
        self.store.log_change(MODELS_SIDE, 0, "reload")
        self.models.forget()
        return path

    def install_model(self, model: Any) -> Path:
        """Install a model file `tune` fitted (query adapter, cross-encoder) beside the index; every process reads
        it again."""
        path = model.save(self.settings.index_dir)
        self.store.log_change(MODELS_SIDE, 0, "reload")
        self.models.forget()
        return path

    def tune(self, benchmark: Any = None, folds: int = 5, force: bool = False, mode: str = "adapter",
             log: Callable[[str], None] | None = None, progress: Progress | None = None, decisions: bool = False
             ) -> dict[str, Any]:
        """Tune on judged pairs — a benchmark's and/or the brokers' decisions (`decisions`) — the query adapter, a
        fine-tune of the float model (top layers, LoRA or full) or a cross-encoder reranker, measured first by
        grouped cross-validation (see learning/tuning.py); installed only when it lifts the figures there, or with
        `force`."""
        from matcher.learning import finetune, judgements, tuning

        if mode not in ("adapter", "cross-encoder", *finetune.MODES):
            raise Invalid(f"unknown tuning mode {mode!r}; choose adapter, cross-encoder, {', '.join(finetune.MODES)}")
        sources = ([benchmark] if benchmark is not None else []) + (
            [judgements.decisions_benchmark(self)] if decisions else [])
        if not sources:
            raise Invalid("nothing to tune on: give a benchmark folder, the brokers' decisions, or both")
        bench = judgements.combine(*sources)
        if mode == "adapter":
            return tuning.tune(self, bench, folds=folds, force=force, log=log)
        if mode == "cross-encoder":
            return tuning.tune_cross_encoder(self, bench, folds=folds, force=force, log=log)
        return tuning.tune_model(self, bench, folds=folds, mode=mode, force=force, log=log, progress=progress)

    def use_tuned_model(self, progress: Progress | None = None) -> dict[str, int]:
        """Switch this process to the model just installed in the data folder and re-encode the catalogue with it
        (the indexes of the old encoder cannot hold its vectors); returns the listings indexed."""
        self._encoder = None
        self.models.forget()
        if self._catalogue is None and not any(self.store.count(t) for t in LISTING_TABLES):
            return {}
        with self._load_lock:
            self._catalogue = self._new_catalogue()
        return self._catalogue.rebuild(progress)

    # -- helpers for other layers -----------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Rows of the main tables."""
        return {t: self.store.count(t) for t in ("organisations", "needs", "results", "candidates", "pairings")}

    def migrate_to(self, url: str, actor: str = "system",
                   progress: Callable[[str, int], None] | None = None) -> dict[str, Any]:
        """Copy this catalogue (every table, ids kept, and the embedding cache) into the empty store at `url`, then
        count and checksum both sides; the report says per table whether they agree."""
        from embeddings.cache import open_vectors
        from matcher.store.transfer import TransferReport, copy_catalogue, copy_vectors

        if url == self.settings.store_url:
            raise Invalid("the target is this catalogue itself")
        target = open_store(url, self.settings.database_pool)
        try:
            report = TransferReport()
            # vectors first (idempotent): a failure then leaves the target catalogue empty, and a re-run starts over
            copy_vectors(open_vectors(self.settings.cache_path), open_vectors(Database.parse(url).cache), report,
                         progress)
            copy_catalogue(self.store, target, progress, report)
            if report.ok:
                target.audit(actor, "migrate", "catalogue", None, {"from": self.store.dialect.name,
                                                                   "tables": len(report.tables)})
        finally:
            target.close()
        return {"ok": report.ok, "tables": report.tables}

    def close(self) -> None:
        """Stop following the log, leave a snapshot if this process holds changes none has, close the store."""
        for thread in self._background:
            thread.stop()
        self._background = []
        if self._catalogue is not None and self._catalogue.applied > self._catalogue.snapshot_seq:
            try:
                self._catalogue.snapshot()
            except Exception:  # the log still holds every change: the next start replays it
                log.exception("snapshot at close failed")
        self.store.close()


__all__ = ["AVAILABLE", "Match", "MatchService", "NotFound", "document_text", "query_views"]
