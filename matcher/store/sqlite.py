"""The SQLite store: one file (WAL) holding organisations, listings, candidates, reviews, pairings, keys, audit, the
change log and the locks shared by every process; sqlite-utils underneath."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from matcher.errors import Invalid, NotFound
from matcher.store.schema import JSON_COLUMNS, LISTING_TABLES, MIGRATIONS, now

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
  no.name as need_org, ro.name as result_org
from pairings p
join needs n on n.id = p.need_id
join results r on r.id = p.result_id
left join organisations no on no.id = n.org_id
left join organisations ro on ro.id = r.org_id
"""
_NEED_COUNTERS = """
  count(*) as needs_posted,
  sum(n.status = 'open') as needs_open,
  sum(n.status in ('matched', 'solved')) as needs_matched,
  sum(n.status = 'solved') as needs_solved,
  coalesce(sum(p.confirmed), 0) as confirmed_pairings,
  coalesce(sum(p.signed), 0) as contracts_signed,
  round(coalesce(sum(p.value), 0), 2) as contract_value
from needs n left join (
  select need_id, count(*) as confirmed, sum(stage in ('contract_signed', 'closed')) as signed,
         sum(case when stage in ('contract_signed', 'closed') then contract_value else 0 end) as value
  from pairings group by need_id
) p on p.need_id = n.id
"""
_FIGURE_KEYS = {"district": "n.district", "industry": "n.industry",
                "month": "substr(coalesce(n.posted_at, n.created_at), 1, 7)"}


class _Reader:
    """One thread's read connection; closed when the thread ends (its thread-local is dropped) or the store closes,
    so servers that retire and start threads do not leak connections."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.db = sqlite_utils.Database(self.conn)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()

    __del__ = close


class Store:
    """Typed access to the catalogue file; thread-safe for one writer and many readers."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.lock = threading.RLock()
        self._owner: int | None = None
        self._local = threading.local()
        self._readers: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._depth = 0
        self._columns: dict[tuple[str, int], set[str]] = {}
        self.migrate()

    # -- schema ---------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply the schema migrations this file has not seen yet, each in its own transaction."""
        while self.version < len(MIGRATIONS):
            with self.transaction():
                step = self.version  # read under the write lock: another process may have migrated meanwhile
                if step >= len(MIGRATIONS):
                    break
                MIGRATIONS[step](self.db)
                self.db.execute(f"PRAGMA user_version={step + 1}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nests (inner blocks join the outer one)."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self.db.execute("BEGIN IMMEDIATE")
                self._owner = threading.get_ident()
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._owner = None
                    self.db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._owner = None
                try:
                    self.db.execute("COMMIT")
                except BaseException:
                    self.db.conn.rollback()  # a failed COMMIT leaves the transaction open: end it
                    raise

    def in_transaction(self) -> bool:
        """Whether the calling thread is inside a transaction it has not committed yet."""
        return bool(self._depth) and self._owner == threading.get_ident()

    def _read(self) -> sqlite_utils.Database:
        """The connection to read with: the writer's inside its own transaction (to see its own writes), else a
        per-thread connection that sees only committed data (WAL lets readers run beside the writer)."""
        if self._depth and self._owner == threading.get_ident():
            return self.db
        reader = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._local.reader = _Reader(self.path)
            self._readers.add(reader)
        return reader.db

    def close(self) -> None:
        for reader in list(self._readers):
            reader.close()
        self.db.conn.close()

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
            return int(self.db[table].insert(self._encode(row)).last_pk)

    def update(self, table: str, row_id: int, changes: dict[str, Any]) -> None:
        """Change some columns of one row."""
        self.get(table, row_id)
        changes = {**changes}
        if "updated_at" in self.columns(table):
            changes["updated_at"] = now()
        with self.transaction():
            self.db[table].update(row_id, self._encode(changes))

    def columns(self, table: str) -> set[str]:
        """Column names of a table (cached per schema version)."""
        key = (table, self.version)
        if key not in self._columns:
            self._columns[key] = set(self.db[table].columns_dict)
        return self._columns[key]

    def delete(self, table: str, row_id: int) -> None:
        self.get(table, row_id)
        with self.transaction():
            self.db[table].delete(row_id)

    def get(self, table: str, row_id: int) -> dict[str, Any]:
        """One row by id, or NotFound."""
        try:
            return self._decode(dict(self._read()[table].get(row_id)))
        except (sqlite_utils.db.NotFoundError, OverflowError):  # OverflowError: an id beyond SQLite's 64 bits
            raise NotFound(f"{table} {row_id} does not exist") from None

    def get_many(self, table: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Rows by id, as a dict; missing ids are left out."""
        out: dict[int, dict[str, Any]] = {}
        ids = list(ids)
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self._read().query(f"select * from [{table}] where id in ({marks})", chunk):
                out[row["id"]] = self._decode(row)
        return out

    def find(self, table: str, **where: Any) -> dict[str, Any] | None:
        """The first row whose columns equal the given values."""
        clause = " and ".join(f"[{k}] = ?" for k in where)
        rows = list(self._read().query(f"select * from [{table}] where {clause} limit 1", list(where.values())))
        return self._decode(rows[0]) if rows else None

    def rows(self, table: str, where: str = "", params: Sequence[Any] = (), order: str = "id",
             limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Rows of a table; `where` is SQL built by the store's own query helpers."""
        sql = f"select * from [{table}]" + (f" where {where}" if where else "") + f" order by {order}"
        if limit is not None:
            sql += f" limit {int(limit)} offset {int(offset)}"
        return [self._decode(r) for r in self._read().query(sql, list(params))]

    def count(self, table: str, where: str = "", params: Sequence[Any] = ()) -> int:
        sql = f"select count(*) from [{table}]" + (f" where {where}" if where else "")
        return int(self._read().execute(sql, list(params)).fetchone()[0])

    def ids(self, table: str, where: str = "", params: Sequence[Any] = ()) -> list[int]:
        sql = f"select id from [{table}]" + (f" where {where}" if where else "") + " order by id"
        return [r[0] for r in self._read().execute(sql, list(params)).fetchall()]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Read-only SQL for the service's figures."""
        return [self._decode(r) for r in self._read().query(sql, list(params))]

    def delete_listing(self, side: str, item_id: int) -> None:
        """Delete a listing with its candidates, their reviews, its pairings and challenge applications."""
        if side not in LISTING_TABLES:
            raise Invalid(f"unknown side {side!r}")
        self.get(side, item_id)
        col = "need_id" if side == "needs" else "result_id"
        with self.transaction():
            self.db.execute(f"delete from pairings where {col} = ?", [item_id])
            self.db.execute(f"delete from reviews where candidate_id in (select id from candidates where {col} = ?)",
                            [item_id])
            self.db.execute(f"delete from candidates where {col} = ?", [item_id])
            if side == "needs":
                self.db.execute("delete from challenge_applications where need_id = ?", [item_id])
            self.db.execute(f"delete from [{side}] where id = ?", [item_id])

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
            cur = self.db.execute("update batch_runs set status = 'failed', error = ?, finished_at = ? "
                                  "where status in ('queued', 'running')", [reason, now()])
            return int(cur.rowcount)

    def decided_candidates(self) -> list[dict[str, Any]]:
        """Every candidate a broker confirmed or rejected (the reranker's training pairs)."""
        return self.rows("candidates", "status in ('confirmed', 'rejected')")

    # -- review queue, pipeline, challenges, figures ----------------------------------------
    def candidates(self, filters: dict[str, Any], sort: str, descending: bool, limit: int, offset: int
                   ) -> tuple[list[dict[str, Any]], int]:
        """A page of candidates joined with need and result summaries (flat columns), and the total.

        filters: status / industry / district (lists), min_score, min_confidence, trl_min, trl_max, need_id,
        result_id, run_id (None = any).
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
        if sort not in CANDIDATE_SORTS:
            raise Invalid(f"cannot sort candidates by {sort!r}; use one of {', '.join(CANDIDATE_SORTS)}")
        where = (" where " + " and ".join(clauses)) if clauses else ""
        order = f" order by {CANDIDATE_SORTS[sort]} {'desc' if descending else 'asc'}, c.id"
        rows = self.query(_CANDIDATES + where + order + " limit ? offset ?", [*params, int(limit), int(offset)])
        total = self._read().execute("select count(*) from candidates c join needs n on n.id = c.need_id "
                                     "join results r on r.id = c.result_id" + where, params).fetchone()[0]
        return rows, int(total)

    def pairings(self, stages: Sequence[str], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """A page of pairings with titles and organisations, newest change first, and the total."""
        where = f" where p.stage in ({','.join('?' * len(stages))})" if stages else ""
        rows = self.query(_PAIRINGS + where + " order by p.updated_at desc, p.id desc limit ? offset ?",
                          [*stages, int(limit), int(offset)])
        total = self._read().execute("select count(*) from pairings p" + where, list(stages)).fetchone()[0]
        return rows, int(total)

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

    def application_counts(self, need_ids: Sequence[int]) -> dict[int, int]:
        """Number of applications per challenge."""
        if not need_ids:
            return {}
        marks = ",".join("?" * len(need_ids))
        rows = self._read().execute(f"select need_id, count(*) from challenge_applications where need_id in "
                                    f"({marks}) group by need_id", list(need_ids)).fetchall()
        return {int(k): int(v) for k, v in rows}

    def need_figures(self, by: str | None) -> list[dict[str, Any]]:
        """Needs posted / open / matched / solved, pairings, contracts and value: one row in all, or one row per
        district, industry or month (`by`), largest first."""
        if by is None:
            return self.query("select " + _NEED_COUNTERS)
        if by not in _FIGURE_KEYS:
            raise Invalid(f"cannot break figures down by {by!r}; use one of {', '.join(_FIGURE_KEYS)}")
        return self.query(f"select {_FIGURE_KEYS[by]} as {by}, {_NEED_COUNTERS} group by 1 order by 2 desc")

    def first_pairings(self) -> list[dict[str, Any]]:
        """Per need with a pairing: when it was posted and when its first pairing was confirmed."""
        return self.query("select coalesce(n.posted_at, n.created_at) as posted, min(p.created_at) as first "
                          "from needs n join pairings p on p.need_id = n.id group by n.id")

    # -- change log -----------------------------------------------------------------------
    def last_change(self) -> int:
        """The sequence number of the newest committed change (0 for none)."""
        row = self._read().execute("select max(seq) from changes").fetchone()
        return int(row[0] or 0)

    def changes_since(self, seq: int, limit: int = 10_000) -> list[dict[str, Any]]:
        """Committed changes after `seq`, oldest first (at most `limit`)."""
        return list(self._read().query("select * from changes where seq > ? order by seq limit ?",
                                       [int(seq), int(limit)]))

    def log_change(self, side: str, item_id: int, op: str) -> int:
        """Append a change that no listing trigger writes (e.g. a new model file); returns its sequence."""
        with self.transaction():
            cur = self.db.execute("insert into changes (side, item_id, op, at) values (?, ?, ?, ?)",
                                  [side, int(item_id), op, now()])
            return int(cur.lastrowid)

    def keywords(self) -> list[str]:
        """Every listing keyword of both sides (the explanation tagger learns them at start)."""
        out: list[str] = []
        for side in LISTING_TABLES:
            for (value,) in self._read().execute(f"select keywords from [{side}] where keywords like '[\"%'"):
                out.extend(json.loads(value))
        return out

    def keys_with_orgs(self) -> list[dict[str, Any]]:
        """Every API key with its organisation's name."""
        return self.query("select k.*, o.name as org from api_keys k join organisations o on o.id = k.org_id "
                          "order by k.id")

    # -- locks shared by every process on this file ---------------------------------------
    def try_lock(self, name: str, owner: str, ttl: float) -> bool:
        """Take (or renew) the named lock for `ttl` seconds unless another live owner holds it."""
        with self.transaction():
            stamp = time.time()  # after waiting for the write lock, not before
            row = self.db.execute("select owner, expires_at from locks where name = ?", [name]).fetchone()
            if row is not None and row[0] != owner and row[1] > stamp:
                return False
            self.db.execute("insert or replace into locks (name, owner, expires_at, acquired_at) values (?, ?, ?, ?)",
                            [name, owner, stamp + ttl, now()])
            return True

    def release_lock(self, name: str, owner: str) -> None:
        """Give the named lock back (only its owner can)."""
        with self.transaction():
            self.db.execute("delete from locks where name = ? and owner = ?", [name, owner])

    def lock_owner(self, name: str) -> str | None:
        """Who holds the named lock now (None when free or expired)."""
        row = self._read().execute("select owner, expires_at from locks where name = ?", [name]).fetchone()
        return row[0] if row is not None and row[1] > time.time() else None

    # -- domain helpers -------------------------------------------------------------------
    def org_id(self, name: str, kind: str = "firm", **fields: Any) -> int:
        """The id of the organisation called `name`, created when new."""
        row = self.find("organisations", name=name)
        if row:
            return int(row["id"])
        return self.insert("organisations", {"name": name, "kind": kind, **fields})

    def audit(self, actor: str, action: str, entity: str, entity_id: int | None,
              detail: dict[str, Any] | None = None) -> None:
        """Append one line to the audit log."""
        self.insert("audit_log", {"at": now(), "actor": actor, "action": action, "entity": entity,
                                  "entity_id": entity_id, "detail": detail or {}})


HIDDEN_SORT_COLUMNS = ("budget", "reward", "deadline")  # confidential needs' fields an outsider may not order by


def listing_where(side: str, filters: dict[str, Any] | None, text: str | None = None, outsider: bool = False,
                  outsider_org: int | None = None) -> tuple[str, list[Any]]:
    """SQL where-clause and parameters for the hard filters of a listing query.

    filters: industry, district, status, confidentiality (lists of codes), trl_min / trl_max, modes (any of),
    org_id, is_challenge, visible_to (an outsider's organisation id, -1 for none: confidential needs of other
    organisations are left out). `text` matches title, description/abstract and keywords (substring).
    """
    if side not in LISTING_TABLES:
        raise Invalid(f"unknown side {side!r}")
    clauses: list[str] = []
    params: list[Any] = []
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, [], "")}
    for col in ("industry", "district", "status", "confidentiality"):
        if col in filters:
            values = filters[col] if isinstance(filters[col], list | tuple) else [filters[col]]
            clauses.append(f"[{col}] in ({','.join('?' * len(values))})")
            params.extend(values)
    if "org_id" in filters:
        clauses.append("org_id = ?")
        params.append(int(filters["org_id"]))
    if "visible_to" in filters and side == "needs":  # an outsider's view: public needs, and its own confidential ones
        clauses.append("(confidentiality != 'brokers' or coalesce(org_id, -1) = ?)")
        params.append(int(filters["visible_to"]))
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
        clauses.append("(" + " or ".join(f"exists (select 1 from json_each([{col}]) where value = ?)"
                                         for _ in modes) + ")")
        params.extend(modes)
    if text:
        body = "description" if side == "needs" else "abstract"
        like = f"%{text}%"
        if side == "needs" and outsider:
            # an outsider's text filter reads a confidential need's title only (its text is not theirs to probe)
            clauses.append(f"(title like ? or ((confidentiality != 'brokers' or coalesce(org_id, -1) = ?) and "
                           f"([{body}] like ? or keywords like ?)))")
            params.extend([like, int(outsider_org or -1), like, like])
        else:
            clauses.append(f"(title like ? or [{body}] like ? or keywords like ?)")
            params.extend([like, like, like])
    return " and ".join(clauses), params


def listing_order(side: str, column: str, descending: bool, outsider: bool = False,
                  outsider_org: int | None = None) -> str:
    """ORDER BY for a listing page; for an outsider a confidential need's hidden fields sort as if empty."""
    key = f"[{column}]"
    if side == "needs" and outsider and column in HIDDEN_SORT_COLUMNS:
        key = (f"(case when confidentiality = 'brokers' and coalesce(org_id, -1) != {int(outsider_org or -1)} "
               f"then null else [{column}] end)")
    return f"{key} {'desc' if descending else 'asc'}, id"
