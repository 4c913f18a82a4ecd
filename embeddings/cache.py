"""An embedding cache keyed by encoder name, role and text hash: unchanged text is never encoded twice.

Kept in a SQLite file beside the catalogue, or in a table of the PostgreSQL store (vectors as bytea), where every
replica on every machine finds the vectors any of them encoded.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import Encoder, clean

RECENT = 4096  # vectors kept in memory per process (~6 MB at 384 dimensions)


class _Rows:
    """Reading a whole cache table in key order (to copy or compare caches)."""

    PAGE = 2000

    def _page(self, after: tuple[str, str, str] | None) -> list[tuple[str, str, str, bytes]]:
        raise NotImplementedError

    def pages(self):
        """Every row (encoder, role, hash, vector), a page at a time, in key order."""
        after = None
        while rows := self._page(after):
            yield rows
            after = rows[-1][:3]

    def count(self) -> int:
        return sum(len(p) for p in self.pages())

    def digest(self) -> str:
        """A digest of every row, comparable between a SQLite and a PostgreSQL cache: the sum of the rows' own
        digests, so it does not depend on the order each database sorts text in."""
        total = 0
        for page in self.pages():
            for row in page:
                one = hashlib.blake2b("|".join(row[:3]).encode() + bytes(row[3]), digest_size=16).digest()
                total = (total + int.from_bytes(one, "big")) % 2**128
        return f"{total:032x}"


def use_wal(conn: sqlite3.Connection, patience: float = 30.0) -> None:
    """Put a SQLite file in WAL mode, waiting for other processes that open it at the same moment.

    Switching the journal mode needs the file to itself for an instant, and SQLite answers "database is locked"
    there without calling the busy handler (seen when two API workers start together): so retry, and skip the
    switch when the file is in WAL mode already (the mode is stored in the file)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _SQLiteVectors(_Rows):
    """The cache table in a SQLite file (several processes may share it)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA busy_timeout=30000")  # several processes share the cache file
        use_wal(self.conn)
        self.conn.execute(
            "create table if not exists embeddings (encoder text, role text, hash text, vector blob, "
            "primary key (encoder, role, hash))"
        )

    def get(self, encoder: str, role: str, hashes: Sequence[str]) -> list[tuple[str, bytes]]:
        return self.conn.execute(
            f"select hash, vector from embeddings where encoder=? and role=? and hash in "
            f"({','.join('?' * len(hashes))})", [encoder, role, *hashes]).fetchall()

    def count(self) -> int:
        return int(self.conn.execute("select count(*) from embeddings").fetchone()[0])

    def _page(self, after):
        where, params = ("where (encoder, role, hash) > (?, ?, ?)", list(after)) if after else ("", [])
        return self.conn.execute(f"select encoder, role, hash, vector from embeddings {where} "
                                 f"order by encoder, role, hash limit {self.PAGE}", params).fetchall()

    def put(self, rows: list[tuple[str, str, str, bytes]]) -> None:
        """Insert rows in one transaction; a failure (another process holding the file too long) rolls back, so
        the connection stays usable and the next write tries again."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany("insert or replace into embeddings values (?, ?, ?, ?)", rows)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


class _PostgresVectors(_Rows):
    """The cache table in the PostgreSQL store, shared by every replica. Given `connection` (the store's pool, as
    `Store.connections` hands it out), it borrows the catalogue's connections — one pool per process for both;
    alone (a migration, a Ray worker) it keeps one connection of its own."""

    def __init__(self, url: str, connection: Callable[[], Any] | None = None) -> None:
        import psycopg  # only deployments on PostgreSQL need it
        from psycopg.rows import tuple_row

        self.psycopg = psycopg
        self.tuple_row = tuple_row
        self.url = url
        self.connection = connection
        self.conn = None if connection is not None else psycopg.connect(url, autocommit=True)
        with contextlib.suppress(psycopg.errors.UniqueViolation):  # another process created it at the same instant
            self._run(lambda cur: cur.execute("create table if not exists embeddings (encoder text, role text, "
                                              "hash text, vector bytea, primary key (encoder, role, hash))"))

    def _run(self, fn: Callable[[Any], Any], transaction: bool = False) -> Any:
        """fn(cursor) on a borrowed pool connection, or on the own one (reconnected once if the server dropped
        it); in one transaction when asked."""
        def on(conn: Any) -> Any:
            with conn.transaction() if transaction else contextlib.nullcontext(), \
                    conn.cursor(row_factory=self.tuple_row) as cur:
                return fn(cur)

        if self.connection is not None:
            with self.connection() as conn:
                return on(conn)
        try:
            return on(self.conn)
        except self.psycopg.OperationalError:  # the server restarted or dropped us: one fresh connection, once
            self.conn = self.psycopg.connect(self.url, autocommit=True)
            return on(self.conn)

    def get(self, encoder: str, role: str, hashes: Sequence[str]) -> list[tuple[str, bytes]]:
        return [(h, bytes(v)) for h, v in self._run(lambda cur: cur.execute(
            "select hash, vector from embeddings where encoder = %s and role = %s and hash = any(%s)",
            [encoder, role, list(hashes)]).fetchall())]

    def _page(self, after):
        where, params = ("where (encoder, role, hash) > (%s, %s, %s)", list(after)) if after else ("", [])
        return [(e, r, h, bytes(v)) for e, r, h, v in self._run(lambda cur: cur.execute(
            f"select encoder, role, hash, vector from embeddings {where} order by encoder, role, hash "
            f"limit {self.PAGE}", params).fetchall())]  # the primary key's order: an index scan per page

    def count(self) -> int:
        return int(self._run(lambda cur: cur.execute("select count(*) from embeddings").fetchone()[0]))

    def put(self, rows: list[tuple[str, str, str, bytes]]) -> None:
        self._run(lambda cur: cur.executemany(
            "insert into embeddings values (%s, %s, %s, %s) on conflict (encoder, role, hash) "
            "do update set vector = excluded.vector", rows), transaction=True)


def open_vectors(target: Path | str, connection: Callable[[], Any] | None = None
                 ) -> _SQLiteVectors | _PostgresVectors:
    """The cache table at `target`: a SQLite file, or a PostgreSQL database (its URL, as the settings'
    `Database.cache` gives it), through `connection` (a pool's connection context) when given."""
    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        return _PostgresVectors(target, connection)
    return _SQLiteVectors(Path(target))


class CachedEncoder(Encoder):
    """Wraps an encoder; looks every text up in the cache (a SQLite file, or a postgresql:// store) first."""

    def __init__(self, inner: Encoder, path: Path | str, connection: Callable[[], Any] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.batch_size = inner.batch_size
        self.table = open_vectors(path, connection)
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        # the vectors this process looked up or wrote last: a listing posted is encoded before its write and looked
        # up again when the change log is applied, and its first match asks for its query views — from memory
        self._recent: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    @staticmethod
    def _hash(text: str) -> str:
        return hashlib.blake2b(clean(text).encode("utf-8"), digest_size=16).hexdigest()

    def _lookup(self, role: str, texts: Sequence[str], fn) -> np.ndarray:
        hashes = [self._hash(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        found = {h: np.frombuffer(blob, dtype=np.float32) for h, blob in self._cached(role, hashes).items()}
        missing = [i for i, h in enumerate(hashes) if h not in found]
        todo: dict[str, str] = {}
        for i in missing:
            todo.setdefault(hashes[i], texts[i])
        self.misses += len(todo)
        self.hits += len(texts) - len(todo)
        if todo:
            vectors = fn(list(todo.values()))
            self._write([(self.name, role, h, v.astype(np.float32).tobytes()) for h, v in zip(todo, vectors)])
            found.update(zip(todo, vectors))
        for i, h in enumerate(hashes):
            out[i] = found[h]
        return out

    def missing(self, role: str, texts: Sequence[str]) -> list[str]:
        """The texts (once each) that have no cached vector yet: what a bulk encoder still has to do."""
        by_hash = {self._hash(t): t for t in texts}
        found = self._cached(role, list(by_hash))
        return [t for h, t in by_hash.items() if h not in found]

    def _cached(self, role: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """The stored vectors (bytes) of these text hashes, looked up once each, in chunks."""
        unique = list(dict.fromkeys(hashes))
        found: dict[str, bytes] = {}
        with self.lock:
            for h in unique:
                blob = self._recent.get((role, h))
                if blob is not None:
                    self._recent.move_to_end((role, h))
                    found[h] = blob
            rest = [h for h in unique if h not in found]
            for start in range(0, len(rest), 900):
                stored = dict(self.table.get(self.name, role, rest[start:start + 900]))
                found.update(stored)
                self._remember((role, h, blob) for h, blob in stored.items())
        return found

    def _remember(self, items: Iterable[tuple[str, str, bytes]]) -> None:
        """Keep these vectors among the RECENT last used (caller holds the lock)."""
        for role, h, blob in items:
            self._recent[(role, h)] = blob
            self._recent.move_to_end((role, h))
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)

    def put(self, role: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors computed elsewhere (a bulk encoder, a benchmark's synthetic vectors) for these texts."""
        self._write([(self.name, role, self._hash(t), np.asarray(v, dtype=np.float32).tobytes())
                     for t, v in zip(texts, vectors)])

    def _write(self, rows: list[tuple]) -> None:
        with self.lock:
            self.table.put(rows)
            self._remember((role, h, blob) for name, role, h, blob in rows if name == self.name)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._lookup("query", texts, self.inner.encode_queries)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._lookup("document", texts, self.inner.encode_documents)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - routed above
        return self.inner.encode_queries(texts)

    def _encode_documents(self, texts: list[str]) -> np.ndarray:  # pragma: no cover
        return self.inner.encode_documents(texts)
