"""The catalogue as a service: organisations and listings of both sides — posted, changed, merged, deleted and
read — each write committed to the store with its audit line and then applied to this process's indexes, and every
read passed through the one access policy (`view`, `require_readable`, `require_owner`), so no door can forget to
redact a confidential need."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from matcher.access.policy import Principal, can_see_confidential, need_view, outsider_scope
from matcher.catalogue import duplicates
from matcher.catalogue.indexes import Indexes
from matcher.catalogue.live import ENCODE_CHUNK, PROGRESS_CHUNK
from matcher.errors import Conflict, Forbidden, Invalid
from matcher.ingest.schemas import NeedIn, OrgIn, ResultIn
from matcher.ingest.vocab import Vocab
from matcher.progress import Progress
from matcher.retrieval.documents import document_text, query_views
from matcher.settings import Database, Settings
from matcher.store import AVAILABLE, LISTING_TABLES, Outsider, Store, open_store

MODELS = {"needs": NeedIn, "results": ResultIn}
SORTABLE = {
    "needs": ("id", "title", "posted_at", "created_at", "updated_at", "deadline", "budget", "industry", "district",
              "status"),
    "results": ("id", "title", "posted_at", "created_at", "updated_at", "price", "trl", "industry", "district",
                "status"),
}


def checked_side(side: str) -> str:
    """`side` when it names one (needs, results); Invalid otherwise."""
    if side not in LISTING_TABLES:
        raise Invalid(f"unknown side {side!r}; use needs or results")
    return side


class Catalogue:
    """Organisations, needs and results: the catalogue's writes and reads. Thread-safe.

    Writes commit to the store, whose change log is the durability, and are then applied to this process's indexes;
    every other process on the same store applies them from the same log (see matcher.catalogue.live)."""

    def __init__(self, settings: Settings, store: Store, vocab: Vocab, indexes: Indexes) -> None:
        self.settings = settings
        self.store = store
        self.vocab = vocab
        self.indexes = indexes

    @property
    def schema_version(self) -> int:
        """The catalogue's schema version (migrations applied)."""
        return self.store.version

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

    def get_org(self, org_id: int) -> dict[str, Any]:
        return self.store.get("organisations", org_id)

    def list_orgs(self, kind: str | None = None, limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
        return self.store.organisations(kind, limit, offset)

    # -- listings -------------------------------------------------------------------------
    def _stored(self, side: str, row: dict[str, Any]) -> dict[str, Any]:
        """A validated listing as the store keeps it: its organisation (a name) as an id, created when new."""
        row = dict(row)
        org = row.pop("org", None)
        if org:
            row["org_id"] = self.store.org_id(org, "firm" if side == "needs" else "institute")
        return row

    def _prepare(self, side: str, rows: Sequence[dict[str, Any]], progress: Progress | None = None,
                 engine: Any = None) -> None:
        """Put the vectors of listings about to be saved into the embedding cache — before the write lock is taken
        (encoding takes ~40 ms a listing; other processes must not wait that long), each text prepared once.
        `engine` (matcher.bulk.get_engine) encodes elsewhere and fills the same cache."""
        texts = [document_text(side, r) for r in rows]
        if engine is not None:
            engine.encode(self.settings, "document", self.indexes.encoder.missing("document", texts), progress)
        self.indexes.live.encode_texts(texts, progress)
        if side == "needs" and engine is None:
            self._encode_views(side, rows, progress)

    def add_listings(self, side: str, items: Sequence[NeedIn | ResultIn | dict[str, Any]], actor: str = "system",
                     progress: Progress | None = None, audit: tuple[str, str, dict[str, Any]] | None = None,
                     engine: Any = None) -> list[int]:
        """Insert or update (by ref) many listings in one transaction, with `audit`'s line (action, entity, detail)
        when given; all or nothing, searchable on return. `engine` (matcher.bulk.get_engine) encodes elsewhere."""
        model = MODELS[side]
        items = [i if isinstance(i, model) else model.model_validate(i) for i in items]
        rows = [item.model_dump() for item in items]
        self._prepare(side, rows, progress, engine)
        ids: list[int] = []
        with self.store.transaction():  # organisations created for the listings commit (or not) with them
            for item, row in zip(items, rows, strict=True):
                item_id, created = self.store.upsert_listing(side, item.ref, self._stored(side, row))
                self.store.audit(actor, "create" if created else "update", side, item_id, {"ref": item.ref})
                ids.append(item_id)
            if audit:
                self.store.audit(actor, audit[0], audit[1], None, audit[2])
        self.indexes.live.sync()  # the indexes follow the change log only: this process applies it like any other
        return ids

    def _encode_views(self, side: str, rows: Sequence[dict[str, Any]], progress: Progress | None = None) -> None:
        """Put the query views of listings being saved into the embedding cache, so their first match only ranks.

        A need is matched as soon as it is posted (the firm waits for its candidates), and its full-text view is
        the costly part of a match (~120 ms of ~150 at bdci-dev's lengths): encoded here, with its passage vector,
        before the write lock is taken."""
        views = [v for r in rows for v in query_views(side, r)[0]]
        step = PROGRESS_CHUNK if progress else ENCODE_CHUNK
        for start in range(0, len(views), step):
            self.indexes.encoder.encode_queries(views[start:start + step])
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
        row = MODELS[side].model_validate(merged).model_dump()
        self._prepare(side, [row])
        with self.store.transaction():
            self.store.update(side, item_id, self._stored(side, row))
            self.store.audit(actor, "update", side, item_id, {"fields": sorted(changes)})
            stored = self.store.get(side, item_id)
        self.indexes.live.sync()
        return stored

    def delete_listing(self, side: str, item_id: int, actor: str = "system") -> None:
        """Remove a listing with its candidates, reviews, pairings and applications, and its index entries."""
        self.get_listing(side, item_id)
        with self.store.transaction():
            self.store.delete_listing(side, item_id)
            self.store.audit(actor, "delete", side, item_id)
        self.indexes.live.sync()

    def find_by_ref(self, side: str, ref: str) -> dict[str, Any] | None:
        """The listing of a side with this external reference, if any."""
        checked_side(side)
        return self.store.find(side, ref=ref)

    # -- duplicates -----------------------------------------------------------------------
    def duplicates(self, side: str, item_id: int, limit: int = 5, viewer: Principal | bool | None = True
                   ) -> list[dict[str, Any]]:
        """Listings of the same side that look like copies of this one (see catalogue/duplicates.py), closest
        first, leaving out confidential needs `viewer` may not see."""
        row = self.get_listing(side, item_id)
        self.require_readable(side, row, viewer)
        dense = self.indexes.live.sides[side].dense
        found = duplicates.find(self.store, dense, side, row, dense.vectors([item_id]), {item_id}, limit * 2,
                                self._unseen(side, viewer))
        return self._seen_duplicates(side, found, viewer)[:limit]

    def draft_duplicates(self, side: str, items: Sequence[NeedIn | ResultIn | dict[str, Any]],
                         viewer: Principal | bool | None = True, progress: Progress | None = None
                         ) -> dict[int, dict[str, Any]]:
        """For listings about to be saved (a form, an import's rows): position → the closest listing already in
        the catalogue it copies (`id`), or the earlier position in `items` it repeats (`row`). A row whose ref
        is already listed is an update of that listing, not a copy of it."""
        checked_side(side)
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
        cat = self.indexes.live
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
        hidden = self.indexes.live.sides["needs"].lexical.hidden_ids()
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
        checked_side(side)
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
        self.indexes.live.sync()
        return {"kept": keep, "merged": drop, **moved}

    def copies(self, side: str, ids: Sequence[int]) -> dict[int, int]:
        """Among these listings, each that copies a lower-numbered one of them → that one (batch runs score and
        propose only the first of a set of copies)."""
        if not ids:
            return {}
        dense = self.indexes.live.sides[side].dense
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

    def get_listing(self, side: str, item_id: int, viewer: Principal | bool | None = True) -> dict[str, Any]:
        """One listing (NotFound when unknown) as `viewer` may see it (see `view`)."""
        return self.view(side, self.store.get(checked_side(side), item_id), viewer)

    def view(self, side: str, row: dict[str, Any], viewer: Principal | bool | None) -> dict[str, Any]:
        """A listing as `viewer` may see it — the one redaction policy every door gets its listings through: a
        confidential need's text, budget and contacts withheld from an outsider (None: anonymous), with `redacted`
        saying whether anything was; an insider (True: the CLI, batch work) gets the row itself."""
        if viewer is True:
            return row
        if side == "needs":
            return need_view(row, viewer or None, self.vocab.industries.name(row.get("industry") or "other"))
        return {**row, "redacted": False}

    @staticmethod
    def require_owner(who: Principal, row: dict[str, Any], what: str) -> None:
        """Refuse a change to a listing the caller's organisation does not own (admins may change any)."""
        if who.role != "admin" and row.get("org_id") != who.org_id:
            raise Forbidden(f"this {what} belongs to another organisation")

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
        if col not in SORTABLE[checked_side(side)]:
            raise Invalid(f"cannot sort by {col!r}; use one of {', '.join(sorted(SORTABLE[side]))}")
        rows, total = self.store.listings(side, filters, text, sort, Outsider(org) if outsider else None, limit,
                                          offset)
        return [self.view(side, r, viewer) for r in rows], total

    @staticmethod
    def require_readable(side: str, row: dict[str, Any], viewer: Principal | bool | None) -> None:
        """Refuse work on a listing the caller may not read in full (a confidential need of another organisation):
        its matches, copies or topic would be drawn from the text it withholds. Every door (API, workbench, CLI)
        asks here, so none can forget it."""
        if side == "needs" and viewer is not True and not can_see_confidential(viewer or None, row):
            raise Forbidden("this need is confidential: only its owner, brokers and admins may do this")

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


__all__ = ["AVAILABLE", "MODELS", "SORTABLE", "Catalogue", "checked_side"]
