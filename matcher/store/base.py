"""The store interface and the SQL both backends share: organisations, listings, candidates, reviews, pairings,
keys, audit, the change log and the locks shared by every process. Written once in the SQL SQLite and PostgreSQL
both speak; a backend (matcher.store.sqlite, matcher.store.postgres) supplies connections, transactions, inserts,
migrations, locks and the few expressions that differ (its Dialect)."""

from __future__ import annotations

import json
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from matcher.errors import Invalid, NotFound
from matcher.store.schema import JSON_COLUMNS, LISTING_TABLES, now

CANDIDATE_SORTS = {"score": "c.score", "confidence": "coalesce(c.confidence, -1)", "rank": "c.rank",
                   "created_at": "c.created_at", "id": "c.id"}
_CANDIDATES = """
select c.*,
  n.title as need_title, n.industry as need_industry, n.district as need_district,
  n.confidentiality as need_confidentiality, n.wanted_trl_min, n.wanted_trl_max, n.org_id as need_org_id,
  no.name as need_org,
  r.title as result_title, r.industry as result_industry, r.district as result_district, r.trl as result_trl,
  r.org_id as result_org_id, ro.name as result_org
from candidates c
join needs n on n.id = c.need_id
join results r on r.id = c.result_id
left join organisations no on no.id = n.org_id
left join organisations ro on ro.id = r.org_id
"""
_PAIRINGS = """
select p.*, n.title as need_title, n.confidentiality as need_confidentiality, n.org_id as need_org_id,
  n.industry as industry, n.district as district, r.title as result_title, r.org_id as result_org_id,
  no.name as need_org, ro.name as result_org, n.contact as need_contact, r.contact as result_contact
from pairings p
join needs n on n.id = p.need_id
join results r on r.id = p.result_id
left join organisations no on no.id = n.org_id
left join organisations ro on ro.id = r.org_id
"""
_NEED_COUNTERS = """
  count(*) as needs_posted,
  sum(case when n.status = 'open' then 1 else 0 end) as needs_open,
  sum(case when c.proposed > 0 then 1 else 0 end) as needs_proposed,
  sum(case when p.confirmed > 0 then 1 else 0 end) as needs_matched,
  sum(case when p.signed > 0 then 1 else 0 end) as needs_solved,
  sum(case when p.closed > 0 then 1 else 0 end) as needs_closed,
  coalesce(sum(p.confirmed), 0) as confirmed_pairings,
  coalesce(sum(p.signed), 0) as contracts_signed,
  coalesce(sum(p.value), 0) as contract_value
from needs n left join (
  select need_id, sum(case when stage <> 'dropped' then 1 else 0 end) as confirmed,
         sum(case when stage in ('contract_signed', 'closed') then 1 else 0 end) as signed,
         sum(case when stage = 'closed' then 1 else 0 end) as closed,
         sum(case when stage in ('contract_signed', 'closed') then contract_value else 0 end) as value
  from pairings group by need_id
) p on p.need_id = n.id left join (
  select need_id, count(*) as proposed from candidates group by need_id
) c on c.need_id = n.id
"""
_FIGURE_KEYS = {"district": "n.district", "industry": "n.industry",
                "month": "substr(coalesce(n.posted_at, n.created_at), 1, 7)"}




@dataclass(frozen=True)
class Dialect:
    """The few SQL expressions the backends spell differently."""

    name: str
    like: str  # case-insensitive substring match
    json_elements: str  # a table function over a JSON array column with a `value` column: format with the column
    json_table: str  # the same in a FROM clause, aliased j with a column `value`

    def json_any(self, column: str, count: int) -> str:
        """True when the JSON array in `column` holds any of `count` parameters."""
        each = self.json_elements.format(column=f'"{column}"')
        return "(" + " or ".join(f"exists (select 1 from {each} where value = ?)" for _ in range(count)) + ")"


SQLITE = Dialect("sqlite", "like", "json_each({column})", "json_each({column}) as j")
POSTGRES = Dialect("postgresql", "ilike", "json_array_elements_text({column}::json)",
                   "json_array_elements_text({column}::json) as j(value)")


class Store(ABC):
    """The catalogue's single source of truth, one interface over two backends. Thread-safe; every process on
    the same database sees the same rows, change log and locks.

    Parameters are written `?` in the shared SQL; a backend translates them. A write outside `transaction()`
    commits on its own.
    """

    dialect: Dialect = SQLITE
    url: str = ""
    # a context manager factory lending one of the store's pooled connections to the embedding cache when it lives
    # in the same database (PostgreSQL); None where it is a file of its own (SQLite)
    connections: Callable[[], AbstractContextManager[Any]] | None = None

    # -- what a backend supplies ----------------------------------------------------------------
    @property
    @abstractmethod
    def version(self) -> int:
        """The schema version (migrations applied)."""

    @abstractmethod
    def migrate(self) -> None:
        """Apply the schema migrations this database has not seen yet, each in its own transaction."""

    @abstractmethod
    def _begin(self) -> None:
        """Open the writing transaction (the caller holds `self.lock`)."""

    @abstractmethod
    def _finish(self, commit: bool) -> None:
        """Commit (or roll back) the open transaction; it is over afterwards even when COMMIT fails."""

    def _init_transactions(self) -> None:
        """State of this process's one writing transaction: one thread at a time, nested blocks join it."""
        self.lock = threading.RLock()
        self._owner: int | None = None
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nests (inner blocks join the outer one)."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._begin()
                self._owner = threading.get_ident()
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._owner = None
                    self._finish(commit=False)
                raise
            self._depth -= 1
            if outer:
                self._owner = None
                self._finish(commit=True)

    def in_transaction(self) -> bool:
        """Whether the calling thread is inside a transaction it has not committed yet."""
        return bool(self._depth) and self._owner == threading.get_ident()

    @abstractmethod
    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read (the caller's own transaction when it is in one, else committed data)."""

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement (inside the caller's transaction, or alone); returns the rows it touched."""

    @abstractmethod
    def _insert(self, table: str, row: dict[str, Any], key: str = "id") -> int:
        """Insert one encoded row and return its generated key."""

    @abstractmethod
    def _table_columns(self, table: str) -> list[str]:
        """Column names of a table, read from the database's catalogue."""

    @abstractmethod
    def try_lock(self, name: str, owner: str, ttl: float) -> bool:
        """Take (or renew) the named lock for `ttl` seconds unless another live owner holds it."""

    @abstractmethod
    def release_lock(self, name: str, owner: str) -> None:
        """Give the named lock back (only its owner can)."""

    @abstractmethod
    def lock_owner(self, name: str) -> str | None:
        """Who holds the named lock now (None when free)."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection this store opened."""

    def insert_many(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert many rows in one transaction (bulk loads; JSON and boolean values encoded as `insert` does)."""
        for start in range(0, len(rows), 5000):
            self._insert_many(table, [self._encode(r) for r in rows[start:start + 5000]])

    def _insert_many(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert encoded rows that carry their own keys (a catalogue copy)."""
        with self.transaction():
            for row in rows:
                self._insert(table, row)

    def reset_sequences(self) -> None:  # noqa: B027 - SQLite needs nothing: a rowid follows the largest present
        """Move generated ids past those present after rows were copied in with their ids (where needed)."""

    # -- shared ---------------------------------------------------------------------------------
    def _value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._select(sql, params)
        return next(iter(rows[0].values())) if rows else None

    @property
    def catalogue_id(self) -> str:
        """A random id given to this catalogue when it was created: an index snapshot belongs to one catalogue."""
        cached = self.__dict__.get("_catalogue_id")
        if not cached:
            cached = self.__dict__["_catalogue_id"] = str(
                self._value("select value from meta where key = 'catalogue_id'") or "")
        return cached

    def tables(self) -> list[str]:
        """Every table of the schema, in an order that respects foreign keys (parents first)."""
        return ["meta", "organisations", "needs", "results", "batch_runs", "candidates", "reviews", "pairings",
                "challenge_applications", "api_keys", "users", "audit_log", "changes", "locks", "conflicts",
                "assignment_rounds", "assignments", "subscriptions", "alerts", "deliveries", "sign_in_failures"]

    # -- rows -----------------------------------------------------------------------------
    @staticmethod
    def _decode(row: dict[str, Any]) -> dict[str, Any]:
        for key in JSON_COLUMNS & row.keys():
            if isinstance(row[key], str):
                row[key] = json.loads(row[key]) if row[key] else ([] if key not in {"detail", "figures",
                                                                                    "components",
                                                                                    "explanation"} else {})
        return row

    @staticmethod
    def _encode(row: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in row.items():
            if isinstance(value, list | dict):
                value = json.dumps(value, ensure_ascii=False)
            elif isinstance(value, bool):
                value = int(value)
            out[key] = value
        return out

    def insert(self, table: str, row: dict[str, Any]) -> int:
        """Insert one row and return its id; created_at/updated_at are filled in."""
        stamp = now()
        row = {**row}
        cols = self.columns(table)
        for key in ("created_at", "updated_at"):
            if key in cols:
                row.setdefault(key, stamp)
        with self.transaction():
            return self._insert(table, self._encode(row))

    def update(self, table: str, row_id: int, changes: dict[str, Any]) -> None:
        """Change some columns of one row."""
        self.get(table, row_id)
        changes = {**changes}
        if "updated_at" in self.columns(table):
            changes["updated_at"] = now()
        encoded = self._encode(changes)
        if not encoded:
            return
        sets = ", ".join(f'"{k}" = ?' for k in encoded)
        with self.transaction():
            self._execute(f'update "{table}" set {sets} where id = ?', [*encoded.values(), row_id])

    def columns(self, table: str) -> set[str]:
        """Column names of a table (read once per process: every write asks)."""
        cache = self.__dict__.setdefault("_columns", {})  # migrate() ran at open: the schema is this code's
        if table not in cache:
            cache[table] = set(self._table_columns(table))
        return cache[table]

    def delete(self, table: str, row_id: int) -> None:
        self.get(table, row_id)
        with self.transaction():
            self._execute(f'delete from "{table}" where id = ?', [row_id])

    def get(self, table: str, row_id: int) -> dict[str, Any]:
        """One row by id, or NotFound."""
        if not -2**63 <= int(row_id) < 2**63:  # beyond a 64-bit id: no such row in either backend
            raise NotFound(f"{table} {row_id} does not exist")
        rows = self._select(f'select * from "{table}" where id = ?', [int(row_id)])
        if not rows:
            raise NotFound(f"{table} {row_id} does not exist")
        return self._decode(rows[0])

    def get_many(self, table: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Rows by id, as a dict; missing ids are left out."""
        out: dict[int, dict[str, Any]] = {}
        ids = list(ids)
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self._select(f'select * from "{table}" where id in ({marks})', chunk):
                out[row["id"]] = self._decode(row)
        return out

    def find(self, table: str, **where: Any) -> dict[str, Any] | None:
        """The first row whose columns equal the given values."""
        clause = " and ".join(f'"{k}" = ?' for k in where)
        rows = self._select(f'select * from "{table}" where {clause} limit 1', list(where.values()))
        return self._decode(rows[0]) if rows else None

    def rows(self, table: str, where: Where = "", params: Sequence[Any] = (), order: Order = "id",
             limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Rows of a table. Outside the store `where` is a mapping of column → value (see `Where`) and `order` sort
        keys ("-id", ("need_id", "-confidence")); SQL text for them is for the store's own modules and tests."""
        clause, values = _where(table, where, params)
        sql = f'select * from "{table}"' + (f" where {clause}" if clause else "") + f" order by {_order(order)}"
        if limit is not None:
            sql += f" limit {int(limit)} offset {int(offset)}"
        return [self._decode(r) for r in self._select(sql, values)]

    def count(self, table: str, where: Where = "", params: Sequence[Any] = ()) -> int:
        """How many rows of a table match (`where` as for `rows`)."""
        clause, values = _where(table, where, params)
        sql = f'select count(*) as n from "{table}"' + (f" where {clause}" if clause else "")
        return int(self._value(sql, values))

    def ids(self, table: str, where: Where = "", params: Sequence[Any] = ()) -> list[int]:
        """The ids of the rows that match (`where` as for `rows`), in order."""
        clause, values = _where(table, where, params)
        sql = f'select id from "{table}"' + (f" where {clause}" if clause else "") + " order by id"
        return [int(r["id"]) for r in self._select(sql, values)]

    def listings(self, side: str, filters: dict[str, Any] | None = None, text: str | None = None,
                 sort: str = "-id", outsider: Outsider | None = None, limit: int = 50, offset: int = 0
                 ) -> tuple[list[dict[str, Any]], int]:
        """A page of a side's listings under hard filters and a substring, sorted by a column ("-budget": going
        down), with the total. For an `outsider` (a caller who may not read confidential needs) the substring is
        matched against those needs' titles only and their hidden fields sort as empty."""
        if side not in LISTING_TABLES:
            raise Invalid(f"unknown side {side!r}")
        org = outsider.org_id if outsider is not None else None
        where, params = listing_where(side, filters, text, outsider is not None, org, self.dialect)
        order = listing_order(side, sort.lstrip("-"), sort.startswith("-"), outsider is not None, org)
        return self.rows(side, where, params, order, limit, offset), self.count(side, where, params)

    def listing_ids(self, side: str, filters: dict[str, Any] | None) -> list[int]:
        """The ids of a side's listings passing hard filters (industry, district, status, TRL, modes, …)."""
        where, params = listing_where(side, filters, dialect=self.dialect)
        return self.ids(side, where, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Read-only SQL for the service's figures."""
        return [self._decode(r) for r in self._select(sql, list(params))]

    def delete_listing(self, side: str, item_id: int) -> None:
        """Delete a listing with its candidates, their reviews, its pairings, challenge applications and the
        assignment-round pairs that proposed it."""
        if side not in LISTING_TABLES:
            raise Invalid(f"unknown side {side!r}")
        self.get(side, item_id)
        col = "need_id" if side == "needs" else "result_id"
        with self.transaction():
            self._execute(f"delete from pairings where {col} = ?", [item_id])
            self._execute(f"delete from assignments where {col} = ?", [item_id])
            alerts = "select id from alerts where side = ? and listing_id = ?"
            self._execute(f"delete from deliveries where alert_id in ({alerts})", [side, item_id])
            self._execute("delete from alerts where side = ? and listing_id = ?", [side, item_id])
            self._execute(f"delete from reviews where candidate_id in (select id from candidates where {col} = ?)",
                          [item_id])
            self._execute(f"delete from candidates where {col} = ?", [item_id])
            if side == "needs":
                self._execute("delete from challenge_applications where need_id = ?", [item_id])
            self._execute(f'delete from "{side}" where id = ?', [item_id])

    def merge_listing(self, side: str, keep: int, drop: int) -> dict[str, int]:
        """Fold listing `drop` into `keep` (same side), then delete it: its candidates, their reviews, its pairings
        and challenge applications move to `keep`, and a challenge `drop` was published as carries over. Where both
        hold a candidate for the same counterpart, `keep`'s stays and takes the other's reviews and its decision
        when its own is still pending; of their two pairings the one further along is kept (on `keep`'s
        candidate, then confirmed). Returns how many rows moved per table."""
        if side not in LISTING_TABLES:
            raise Invalid(f"unknown side {side!r}")
        if keep == drop:
            raise Invalid("a listing cannot be merged into itself")
        col, other = ("need_id", "result_id") if side == "needs" else ("result_id", "need_id")
        moved = {"candidates": 0, "reviews": 0, "pairings": 0, "applications": 0}
        order = {stage: i for i, stage in enumerate(("dropped", "confirmed", "contacted", "negotiating",
                                                     "contract_signed", "closed"))}
        with self.transaction():
            kept, gone = self.get(side, keep), self.get(side, drop)
            if kept.get("org_id") and gone.get("org_id") and kept["org_id"] != gone["org_id"]:
                raise Invalid("listings of two different organisations are not copies of each other")
            mine = {c[other]: c for c in self.rows("candidates", f"{col} = ?", [keep])}
            for cand in self.rows("candidates", f"{col} = ?", [drop]):
                twin = mine.get(cand[other])
                if twin is None:
                    self._execute(f"update candidates set {col} = ? where id = ?", [keep, cand["id"]])
                    moved["candidates"] += 1
                    continue
                moved["reviews"] += self._execute("update reviews set candidate_id = ? where candidate_id = ?",
                                                  [twin["id"], cand["id"]])
                if twin["status"] == "pending" and cand["status"] != "pending":
                    self._execute("update candidates set status = ? where id = ?", [cand["status"], twin["id"]])
                theirs = self.find("pairings", candidate_id=cand["id"])
                ours = self.find("pairings", candidate_id=twin["id"])
                if theirs is not None and (ours is None or order.get(theirs["stage"], 0) > order.get(ours["stage"], 0)):
                    if ours is not None:
                        self.delete("pairings", ours["id"])
                    self._execute(f"update pairings set candidate_id = ?, {col} = ? where id = ?",
                                  [twin["id"], keep, theirs["id"]])
                    self._execute("update candidates set status = 'confirmed' where id = ?", [twin["id"]])
                    moved["pairings"] += 1
            moved["pairings"] += self._execute(f"update pairings set {col} = ? where {col} = ? and candidate_id in "
                                               f"(select id from candidates where {col} = ?)", [keep, drop, keep])
            self._execute(f"update assignments set {col} = ? where {col} = ? and candidate_id in "
                          f"(select id from candidates where {col} = ?)", [keep, drop, keep])
            if side == "needs":
                moved["applications"] = self._execute(
                    "update challenge_applications set need_id = ? where need_id = ?", [keep, drop])
                if gone.get("is_challenge") and not kept.get("is_challenge"):
                    self.update("needs", keep, {k: gone.get(k) for k in (
                        "is_challenge", "challenge_goal", "challenge_indicators", "reward")})
            else:
                moved["applications"] = self._execute(
                    "update challenge_applications set result_id = ? where result_id = ?", [keep, drop])
            self.delete_listing(side, drop)
        return moved

    def organisations(self, kind: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """A page of organisations by name (of one kind when given), and the total."""
        where, params = ("kind = ?", [kind]) if kind else ("", [])
        return self.rows("organisations", where, params, "name", limit, offset), self.count("organisations", where,
                                                                                            params)

    def upsert_listing(self, side: str, ref: str | None, row: dict[str, Any]) -> tuple[int, bool]:
        """Insert a listing, or update the one with the same external ref; (id, created?)."""
        existing = self.find(side, ref=ref) if ref else None
        if existing:
            self.update(side, existing["id"], row)
            return int(existing["id"]), False
        return self.insert(side, row), True

    def fail_unfinished_batches(self, reason: str) -> int:
        """Mark runs left queued or running (their process died) as failed; call while holding the batch lock."""
        with self.transaction():
            return self._execute("update batch_runs set status = 'failed', error = ?, finished_at = ? "
                                 "where status in ('queued', 'running')", [reason, now()])

    def pages(self, table: str, columns: str = "*", key: str = "id", size: int = 5000
              ) -> Iterator[list[dict[str, Any]]]:
        """A table's raw rows (JSON columns as stored) in key order, a page at a time (keyset paging: each page
        one indexed range read, however deep into the table)."""
        last: Any = None
        while True:
            where, params = (f'where "{key}" > ?', [last]) if last is not None else ("", [])
            page = self._select(f'select {columns} from "{table}" {where} order by "{key}" limit {int(size)}', params)
            if not page:
                return
            yield page
            last = page[-1][key]

    def text_pages(self, side: str, size: int = 20_000) -> Iterator[list[dict[str, Any]]]:
        """Every listing of a side with only the columns its indexed text is made of, in id order, a page at a
        time (a cold index build at 1M listings holds one page, not 1M decoded rows)."""
        if side not in LISTING_TABLES:
            raise Invalid(f"unknown side {side!r}")
        cols = "id, title, description, keywords, confidentiality" if side == "needs" else \
            "id, title, abstract, keywords, application_fields"
        for page in self.pages(side, cols, size=size):
            yield [self._decode(r) for r in page]

    def scored_needs(self, run_id: int) -> set[int]:
        """Needs a batch run has stored candidates for (a resumed run skips them)."""
        return {int(r["need_id"]) for r in self._select("select distinct need_id from candidates where run_id = ?",
                                                        [int(run_id)])}

    def decided_candidates(self, public: bool = True) -> list[dict[str, Any]]:
        """Every candidate a broker confirmed or rejected (the reranker's and `tune --decisions`' training pairs);
        `public`: only pairs whose need is public — a model every caller is served by learns from no text some
        callers may not read."""
        hidden = " and need_id not in (select id from needs where confidentiality = 'brokers')" if public else ""
        return self.rows("candidates", f"status in ('confirmed', 'rejected'){hidden}")

    # -- review queue, pipeline, challenges, figures ----------------------------------------
    def candidates(self, filters: dict[str, Any], sort: str, descending: bool, limit: int, offset: int
                   ) -> tuple[list[dict[str, Any]], int]:
        """A page of candidates joined with need and result summaries (flat columns), and the total.

        filters: status / industry / district (lists), min_score, min_confidence, trl_min, trl_max, need_id,
        result_id, run_id, round_id (an assignment round's pairs), org_id (either side's organisation), text (a
        substring of either title or either organisation's name, case-insensitive) (None = any).
        """
        clauses: list[str] = []
        params: list[Any] = []
        for col, key in (("c.status", "status"), ("n.industry", "industry"), ("n.district", "district")):
            values = filters.get(key) or []
            if values:
                clauses.append(f"{col} in ({','.join('?' * len(values))})")
                params.extend(values)
        for col, key, op in (("c.score", "min_score", ">="), ("c.confidence", "min_confidence", ">="),
                             ("r.trl", "trl_min", ">="), ("r.trl", "trl_max", "<="), ("c.need_id", "need_id", "="),
                             ("c.result_id", "result_id", "="), ("c.run_id", "run_id", "=")):
            if filters.get(key) is not None:
                clauses.append(f"{col} {op} ?")
                params.append(filters[key])
        if filters.get("round_id") is not None:  # the pairs an assignment round proposed
            clauses.append("c.id in (select a.candidate_id from assignments a where a.round_id = ?)")
            params.append(filters["round_id"])
        if filters.get("org_id") is not None:
            clauses.append("(n.org_id = ? or r.org_id = ?)")
            params.extend([int(filters["org_id"])] * 2)
        if filters.get("text"):
            like = literal_like(str(filters["text"]))
            names = f"select o.id from organisations o where o.name {self.dialect.like} ? {_ESC}"
            clauses.append(f"(n.title {self.dialect.like} ? {_ESC} or r.title {self.dialect.like} ? {_ESC} or "
                           f"n.org_id in ({names}) or r.org_id in ({names}))")
            params.extend([like] * 4)
        if sort not in CANDIDATE_SORTS:
            raise Invalid(f"cannot sort candidates by {sort!r}; use one of {', '.join(CANDIDATE_SORTS)}")
        where = (" where " + " and ".join(clauses)) if clauses else ""
        order = f" order by {CANDIDATE_SORTS[sort]} {'desc' if descending else 'asc'}, c.id"
        rows = self.query(_CANDIDATES + where + order + " limit ? offset ?", [*params, int(limit), int(offset)])
        total = self._value("select count(*) as n from candidates c join needs n on n.id = c.need_id "
                            "join results r on r.id = c.result_id" + where, params)
        return rows, int(total)

    def decisions_between(self, start: str, end: str) -> list[dict[str, Any]]:
        """Decisions (confirm, reject, undo) taken from `start` up to `end` (UTC ISO timestamps), oldest first, with
        the pair's titles, organisations and confidence."""
        return self.query(
            "select v.*, c.need_id, c.result_id, c.confidence, n.title as need_title, r.title as result_title, "
            "no.name as need_org, ro.name as result_org from reviews v join candidates c on c.id = v.candidate_id "
            "join needs n on n.id = c.need_id join results r on r.id = c.result_id "
            "left join organisations no on no.id = n.org_id left join organisations ro on ro.id = r.org_id "
            "where v.created_at >= ? and v.created_at < ? order by v.created_at, v.id", [start, end])

    def pairings(self, stages: Sequence[str], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """A page of pairings with titles and organisations, newest change first, and the total."""
        where = f" where p.stage in ({','.join('?' * len(stages))})" if stages else ""
        rows = self.query(_PAIRINGS + where + " order by p.updated_at desc, p.id desc limit ? offset ?",
                          [*stages, int(limit), int(offset)])
        total = self._value("select count(*) as n from pairings p" + where, list(stages))
        return rows, int(total)

    def due_pairings(self, day: str, final: Sequence[str]) -> list[dict[str, Any]]:
        """Pairings not at a final stage whose next action is dated `day` or earlier, earliest first."""
        marks = ",".join("?" * len(final))
        return self.query(_PAIRINGS + f" where p.next_action_at is not null and p.next_action_at <= ? and p.stage "
                          f"not in ({marks}) order by p.next_action_at, p.id", [day, *final])

    def pairing(self, pairing_id: int) -> dict[str, Any]:
        """One pairing with titles and organisations, or NotFound."""
        rows = self.query(_PAIRINGS + " where p.id = ?", [pairing_id])
        if not rows:
            raise NotFound(f"pairings {pairing_id} does not exist")
        return rows[0]

    def applications(self, need_id: int) -> list[dict[str, Any]]:
        """Applications filed against a challenge, with the organisations' names."""
        return self.query("select a.*, o.name as org from challenge_applications a left join organisations o "
                          "on o.id = a.org_id where a.need_id = ? order by a.id", [need_id])

    def applications_by_org(self, org_id: int) -> list[dict[str, Any]]:
        """An organisation's applications, newest first, with the challenge's title."""
        return self.query("select a.*, n.title as challenge_title, n.confidentiality as challenge_confidentiality "
                          "from challenge_applications a join needs n on n.id = a.need_id where a.org_id = ? "
                          "order by a.id desc", [org_id])

    def application_counts(self, need_ids: Sequence[int]) -> dict[int, int]:
        """Number of applications per challenge."""
        if not need_ids:
            return {}
        marks = ",".join("?" * len(need_ids))
        rows = self._select(f"select need_id, count(*) as n from challenge_applications where need_id in "
                            f"({marks}) group by need_id", list(need_ids))
        return {int(r["need_id"]): int(r["n"]) for r in rows}

    def need_figures(self, by: str | None) -> list[dict[str, Any]]:
        """Needs posted / open / proposed (≥ 1 candidate) / matched (≥ 1 pairing not dropped) / solved (a signed
        contract) / closed, pairings (not dropped), contracts and their value: one row in all, or one row per
        district, industry or month (`by`), largest first. Every need figure counts needs, each once."""
        if by is None:
            rows = self.query("select " + _NEED_COUNTERS)
        elif by not in _FIGURE_KEYS:
            raise Invalid(f"cannot break figures down by {by!r}; use one of {', '.join(_FIGURE_KEYS)}")
        else:
            rows = self.query(f'select {_FIGURE_KEYS[by]} as "{by}", {_NEED_COUNTERS} group by 1 order by 2 desc')
        for row in rows:
            for key in ("needs_open", "needs_proposed", "needs_matched", "needs_solved", "needs_closed"):
                row[key] = int(row[key] or 0)
            row["contract_value"] = round(float(row["contract_value"] or 0), 2)
        return rows

    def decisions_by_actor(self) -> list[dict[str, Any]]:
        """Per broker (review actor): confirmations, rejections and undos taken, and when the last was."""
        return self.query(
            "select actor, sum(case when decision = 'confirm' then 1 else 0 end) as confirmed, "
            "sum(case when decision = 'reject' then 1 else 0 end) as rejected, "
            "sum(case when decision = 'undo' then 1 else 0 end) as undone, max(created_at) as last "
            "from reviews group by actor order by count(*) desc, actor")

    def pairings_by_month(self) -> list[dict[str, Any]]:
        """Pairings confirmed and contracts signed per month of the confirmation."""
        return self.query(
            "select substr(created_at, 1, 7) as month, count(*) as confirmed_pairings, "
            "sum(case when stage in ('contract_signed', 'closed') then 1 else 0 end) as contracts_signed "
            "from pairings group by substr(created_at, 1, 7) order by 1")

    def first_pairings(self) -> list[dict[str, Any]]:
        """Per need with a pairing: when it was posted and when its first pairing was confirmed."""
        return self.query("select coalesce(n.posted_at, n.created_at) as posted, min(p.created_at) as first "
                          "from needs n join pairings p on p.need_id = n.id group by n.id")

    # -- catalogue facts and alert deliveries ---------------------------------------------
    def meta(self, key: str) -> str | None:
        """A recorded fact about the catalogue (e.g. how far the alert scan has read the change log), or None."""
        return self._value("select value from meta where key = ?", [key])

    def put_meta(self, key: str, value: str) -> None:
        """Record a fact (in the caller's transaction, if any)."""
        with self.transaction():
            if not self._execute("update meta set value = ? where key = ?", [value, key]):
                self._execute("insert into meta (key, value) values (?, ?)", [key, value])

    def claim_delivery(self, delivery_id: int, owner: str, now_ts: float, until: float) -> bool:
        """Take a due, pending delivery for `owner` until `until` (epoch seconds); False when another process holds
        it or it is no longer due (so two workers never send one delivery at once)."""
        with self.transaction():
            return self._execute("update deliveries set claimed_by = ?, claimed_until = ? where id = ? and "
                                 "status = 'pending' and next_attempt_at <= ? and (claimed_until is null or "
                                 "claimed_until < ?)", [owner, until, delivery_id, now_ts, now_ts]) == 1

    def labelled(self, side: str, unlabelled: str) -> list[dict[str, Any]]:
        """Id and cluster of every public listing of a side filed under a cluster other than `unlabelled` (其他), by
        id — what the cluster classifier learns from (it answers anyone: a confidential need is not taught to it)."""
        if side not in LISTING_TABLES:
            raise Invalid(f"unknown side {side!r}")
        public = " and confidentiality <> 'brokers'" if side == "needs" else ""
        return self._select(f'select id, industry from "{side}" where industry <> ?{public} order by id',
                            [unlabelled])

    def sign_in_failures(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The failed sign-ins recorded under these keys (account names, clients)."""
        where, params = one_of("key", list(keys))
        return self._select(f"select * from sign_in_failures where {where}", params)

    def record_sign_in_failure(self, key: str, now_ts: float, forget_after: float) -> dict[str, Any]:
        """One more failed sign-in under `key` (counting from one again when the last was over `forget_after`
        seconds ago); returns the key's row."""
        with self.transaction():
            row = self.find("sign_in_failures", key=key)
            if row is None:
                self.insert_new("sign_in_failures", {"key": key, "failures": 0, "last_at": now_ts}, ("key",))
                row = self.find("sign_in_failures", key=key)
            failures = 1 if now_ts - float(row["last_at"] or 0) > forget_after else int(row["failures"]) + 1
            self._execute("update sign_in_failures set failures = ?, last_at = ? where id = ?",
                          [failures, now_ts, row["id"]])
            return {**row, "failures": failures, "last_at": now_ts}

    def lock_sign_in(self, key: str, until: float) -> None:
        """Refuse every sign-in under `key` until `until` (epoch seconds)."""
        with self.transaction():
            self._execute("update sign_in_failures set locked_until = ? where key = ?", [until, key])

    def clear_sign_in_failures(self, key: str) -> None:
        """Forget the failed sign-ins under `key` (after a successful one)."""
        with self.transaction():
            self._execute("delete from sign_in_failures where key = ?", [key])

    def confidential_owners(self, org_ids: Sequence[int]) -> set[int]:
        """Those of these organisations that own a confidential need."""
        where, params = one_of("org_id", [int(o) for o in org_ids])
        return {int(r["org_id"]) for r in self._select(
            f"select distinct org_id from needs where confidentiality = 'brokers' and {where}", params)}

    def delete_subscription(self, sub_id: int) -> None:
        """A subscription with its alerts and their deliveries."""
        with self.transaction():
            self._execute("delete from deliveries where subscription_id = ?", [sub_id])
            self._execute("delete from alerts where subscription_id = ?", [sub_id])
            self._execute("delete from subscriptions where id = ?", [sub_id])

    def finish_delivery(self, delivery_id: int, owner: str, changes: dict[str, Any]) -> bool:
        """Record a delivery's outcome if `owner` still holds its claim (False: the claim lapsed and another worker
        took the delivery, whose outcome then stands)."""
        sets = ", ".join(f'"{k}" = ?' for k in changes)
        with self.transaction():
            return self._execute(f"update deliveries set {sets} where id = ? and claimed_by = ?",
                                 [*self._encode(changes).values(), delivery_id, owner]) == 1

    def due_deliveries(self, now_ts: float, limit: int = 20) -> list[dict[str, Any]]:
        """Pending deliveries whose next attempt is due and which no live claim holds, oldest first."""
        return self.rows("deliveries", "status = 'pending' and next_attempt_at <= ? and (claimed_until is null or "
                         "claimed_until < ?)", [now_ts, now_ts], order="next_attempt_at, id", limit=limit)

    # -- change log -----------------------------------------------------------------------
    def last_change(self) -> int:
        """The sequence number of the newest committed change (0 for none)."""
        return int(self._value("select max(seq) as seq from changes") or 0)

    def changes_since(self, seq: int, limit: int = 10_000) -> list[dict[str, Any]]:
        """Committed changes after `seq`, oldest first (at most `limit`)."""
        return self._select("select * from changes where seq > ? order by seq limit ?", [int(seq), int(limit)])

    def log_change(self, side: str, item_id: int, op: str) -> int:
        """Append a change that no listing trigger writes (e.g. a new model file); returns its sequence."""
        with self.transaction():
            return self._insert("changes", {"side": side, "item_id": int(item_id), "op": op, "at": now()}, "seq")

    def keywords(self, public: bool = False) -> list[str]:
        """Every distinct listing keyword of both sides (the explanation tagger learns them at start); `public`:
        only those of listings every caller may read (confidential needs' keywords left out)."""
        out: set[str] = set()
        for side in LISTING_TABLES:  # distinct terms, unpacked by the database (one row per term, not per listing)
            each = self.dialect.json_table.format(column="t.keywords")
            hidden = " and t.confidentiality <> 'brokers'" if public and side == "needs" else ""
            out.update(r["value"] for r in self._select(
                f"""select distinct j.value as value from "{side}" t, {each} where t.keywords like '["%'{hidden}"""))
        return sorted(out)

    def keys_with_orgs(self) -> list[dict[str, Any]]:
        """Every API key with its organisation's name."""
        return self.query("select k.*, o.name as org from api_keys k join organisations o on o.id = k.org_id "
                          "order by k.id")

    # -- domain helpers -------------------------------------------------------------------
    def insert_new(self, table: str, row: dict[str, Any], unique: Sequence[str]) -> int | None:
        """Insert a row unless one with the same `unique` columns exists (then None): the check and the insert are
        one statement, so two processes racing to add the same row never meet a unique-index error."""
        stamp, cols = now(), self.columns(table)
        new = self._encode({**{k: stamp for k in ("created_at", "updated_at") if k in cols}, **row})
        names = ", ".join(f'"{c}"' for c in new)
        keys = ", ".join(f'"{c}"' for c in unique)
        with self.transaction():
            added = self._execute(f'insert into "{table}" ({names}) values ({", ".join("?" * len(new))}) '
                                  f"on conflict ({keys}) do nothing", list(new.values()))
            if not added:
                return None
            found = self.find(table, **{c: row[c] for c in unique})
            return int(found["id"])

    def org_id(self, name: str, kind: str = "firm", **fields: Any) -> int:
        """The id of the organisation called `name`, created when new."""
        row = self.find("organisations", name=name)
        if row:
            return int(row["id"])
        stamp = now()
        new = self._encode({"name": name, "kind": kind, **fields, "created_at": stamp, "updated_at": stamp})
        cols = ", ".join(f'"{c}"' for c in new)
        with self.transaction():  # another process creating the same organisation meanwhile: theirs is kept
            self._execute(f"insert into organisations ({cols}) values ({', '.join('?' * len(new))}) "
                          "on conflict (name) do nothing", list(new.values()))
            return int(self.find("organisations", name=name)["id"])

    def audit(self, actor: str, action: str, entity: str, entity_id: int | None,
              detail: dict[str, Any] | None = None) -> None:
        """Append one line to the audit log."""
        self.insert("audit_log", {"at": now(), "actor": actor, "action": action, "entity": entity,
                                  "entity_id": entity_id, "detail": detail or {}})


_ESC = "escape '\\'"  # LIKE patterns escape % _ and \ with a backslash, on both backends
HIDDEN_SORT_COLUMNS = ("budget", "reward", "deadline")  # confidential needs' fields an outsider may not order by


@dataclass(frozen=True)
class Outsider:
    """A caller who may not read confidential needs, with the organisation whose own needs it may read (None: an
    anonymous caller, who owns nothing). Never a sentinel id: a need with no organisation is nobody's own."""

    org_id: int | None = None


def _readable(org_id: int | None) -> tuple[str, list[Any]]:
    """A where-clause keeping needs an outsider of this organisation may read: public ones and its own."""
    if org_id is None:
        return "confidentiality <> 'brokers'", []
    return "(confidentiality <> 'brokers' or org_id = ?)", [int(org_id)]


def literal_like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, literally (its % _ and \\ escaped; pair it with `_ESC`)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True)
class Not:
    """A `where` value: the column holds anything but this value (`{"stage": Not("dropped")}`; a list: none of
    them; None: any value, not empty)."""

    value: Any


Where = str | Mapping[str, Any]
Order = str | Sequence[str]
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")
_SORT_KEY = re.compile(r"^-?[a-z_][a-z0-9_]*$")


def _where(table: str, where: Where, params: Sequence[Any]) -> tuple[str, list[Any]]:
    """SQL for a `where`: a mapping keeps rows whose columns equal the values (a list, tuple or set: any of them,
    none: no row; None: empty; `Not(v)`: anything else); a string is the store's own SQL, with its parameters."""
    if isinstance(where, str):
        return where, list(params)
    if params:
        raise TypeError("parameters go with SQL text only: a column filter carries its own values (pass order= "
                        "by name)")
    clauses, values = [], []
    for column, value in where.items():
        if not _COLUMN.match(column):
            raise Invalid(f"{column!r} is not a column of {table}")
        if value is None:
            clauses.append(f'"{column}" is null')
        elif isinstance(value, Not) and value.value is None:
            clauses.append(f'"{column}" is not null')
        elif isinstance(value, Not) and isinstance(value.value, (list, tuple, set, frozenset)):
            if value.value:
                clause, more = one_of(column, list(value.value))
                clauses.append(f'(not {clause} or "{column}" is null)')
                values += more
        elif isinstance(value, Not):
            clauses.append(f'("{column}" <> ? or "{column}" is null)')
            values.append(value.value)
        elif isinstance(value, (list, tuple, set, frozenset)):
            clause, more = one_of(column, list(value))
            clauses.append(clause)
            values += more
        else:
            clauses.append(f'"{column}" = ?')
            values.append(value)
    return " and ".join(clauses), values


def _order(order: Order) -> str:
    """ORDER BY for sort keys ("-id": going down; several: in turn, then by id; empty values first going up and
    last going down, alike on both backends), or the store's own SQL."""
    keys = [order] if isinstance(order, str) else list(order)
    if not all(_SORT_KEY.match(k) for k in keys):
        return str(order)
    sql = [f'"{k.lstrip("-")}"' + (" desc nulls last" if k.startswith("-") else " asc nulls first") for k in keys]
    return ", ".join(sql if any(k.lstrip("-") == "id" for k in keys) else [*sql, "id"])


def one_of(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """A where-clause (and its parameters) keeping rows whose column holds one of the values (none: no row)."""
    if not values:
        return "1 = 0", []
    return f'"{column}" in ({",".join("?" * len(values))})', list(values)


def listing_where(side: str, filters: dict[str, Any] | None, text: str | None = None, outsider: bool = False,
                  outsider_org: int | None = None, dialect: Dialect = SQLITE) -> tuple[str, list[Any]]:
    """SQL where-clause and parameters for the hard filters of a listing query.

    filters: industry, district, status, confidentiality (lists of codes), trl_min / trl_max, modes (any of),
    org_id, is_challenge, visible_to (an `Outsider`: confidential needs of every organisation but its own are left
    out; an outsider with no organisation owns none, and a need with no organisation is nobody's own). `text`
    matches title, description/abstract and keywords (substring); for an outsider (`outsider`, `outsider_org`) a
    confidential need it does not own is matched on its title only.
    """
    if side not in LISTING_TABLES:
        raise Invalid(f"unknown side {side!r}")
    clauses: list[str] = []
    params: list[Any] = []
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, [], "")}
    for col in ("industry", "district", "status", "confidentiality"):
        if col in filters:
            clause, values = one_of(col, filters[col] if isinstance(filters[col], list | tuple) else [filters[col]])
            clauses.append(clause)
            params.extend(values)
    if "org_id" in filters:
        clauses.append("org_id = ?")
        params.append(int(filters["org_id"]))
    if "visible_to" in filters and side == "needs":  # an outsider's view: public needs, and its own confidential ones
        clause, values = _readable(filters["visible_to"].org_id)
        clauses.append(clause)
        params.extend(values)
    if "is_challenge" in filters and side == "needs":
        clauses.append("is_challenge = ?")
        params.append(int(bool(filters["is_challenge"])))
    if side == "results":
        if "trl_min" in filters:
            clauses.append("trl >= ?")
            params.append(int(filters["trl_min"]))
        if "trl_max" in filters:
            clauses.append("trl <= ?")
            params.append(int(filters["trl_max"]))
    else:
        # a need fits a TRL window when its wanted range overlaps it
        if "trl_min" in filters:
            clauses.append("wanted_trl_max >= ?")
            params.append(int(filters["trl_min"]))
        if "trl_max" in filters:
            clauses.append("wanted_trl_min <= ?")
            params.append(int(filters["trl_max"]))
    if "modes" in filters:
        col = "coop_modes" if side == "needs" else "transfer_modes"
        modes = filters["modes"] if isinstance(filters["modes"], list | tuple) else [filters["modes"]]
        clauses.append(dialect.json_any(col, len(modes)))
        params.extend(modes)
    if text:
        body = "description" if side == "needs" else "abstract"
        like = literal_like(text)
        if side == "needs" and outsider:
            # an outsider's text filter reads a confidential need's title only (its text is not theirs to probe)
            readable, values = _readable(outsider_org)
            clauses.append(f'(title {dialect.like} ? {_ESC} or ({readable} and ("{body}" {dialect.like} ? {_ESC} or '
                           f"keywords {dialect.like} ? {_ESC})))")
            params.extend([like, *values, like, like])
        else:
            clauses.append(f'(title {dialect.like} ? {_ESC} or "{body}" {dialect.like} ? {_ESC} or '
                           f"keywords {dialect.like} ? {_ESC})")
            params.extend([like, like, like])
    return " and ".join(clauses), params


def listing_order(side: str, column: str, descending: bool, outsider: bool = False,
                  outsider_org: int | None = None) -> str:
    """ORDER BY for a listing page; for an outsider a confidential need's hidden fields sort as if empty."""
    key = f'"{column}"'
    if side == "needs" and outsider and column in HIDDEN_SORT_COLUMNS:
        own = f" and (org_id is null or org_id <> {int(outsider_org)})" if outsider_org is not None else ""
        key = f"""(case when confidentiality = 'brokers'{own} then null else "{column}" end)"""
    # empty values first going up, last going down, on both backends (PostgreSQL's default is the reverse)
    return f"{key} {'desc nulls last' if descending else 'asc nulls first'}, id"
