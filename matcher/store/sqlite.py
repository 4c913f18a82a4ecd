"""The SQLite store (the embedded default): one file in WAL mode, sqlite-utils underneath; one writer at a time
across every process on the file, readers beside it."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from embeddings.cache import use_wal
from matcher.store.base import SQLITE, Store
from matcher.store.schema import MIGRATIONS, now


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


class _DDL:
    """The migrations' DDL writer on SQLite: sqlite-utils tables plus the change-log triggers."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def __getitem__(self, table: str) -> sqlite_utils.db.Table:
        return self.db[table]

    def create_change_log(self, sides: Sequence[str]) -> None:
        # one writer at a time on a SQLite file: sequence order is commit order
        self.db.execute("create table changes (seq integer primary key autoincrement, side text not null, "
                        "item_id integer not null, op text not null, at text not null)")
        for side in sides:
            for event, op, ref in (("insert", "upsert", "new"), ("update", "upsert", "new"),
                                   ("delete", "delete", "old")):
                self.db.execute(f"create trigger {side}_{event}_log after {event} on [{side}] begin "
                                f"insert into changes (side, item_id, op, at) values "
                                f"('{side}', {ref}.id, '{op}', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); end")

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("insert or replace into meta (key, value) values (?, ?)", [key, value])


class SQLiteStore(Store):
    """The catalogue in one SQLite file; thread-safe for one writer and many readers."""

    dialect = SQLITE

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA busy_timeout=10000")
        use_wal(conn)
        self.db.execute("PRAGMA foreign_keys=ON")
        self._init_transactions()
        self._local = threading.local()
        self._readers: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self.migrate()

    # -- schema ---------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        while self.version < len(MIGRATIONS):
            with self.transaction():
                step = self.version  # read under the write lock: another process may have migrated meanwhile
                if step >= len(MIGRATIONS):
                    break
                MIGRATIONS[step](_DDL(self.db))
                self.db.execute(f"PRAGMA user_version={step + 1}")

    def _table_columns(self, table: str) -> list[str]:
        return list(self._read()[table].columns_dict)

    # -- transactions and connections ------------------------------------------------------
    def _begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")  # the file's write lock: one writer at a time across processes

    def _finish(self, commit: bool) -> None:
        if not commit:
            self.db.execute("ROLLBACK")
            return
        try:
            self.db.execute("COMMIT")
        except BaseException:
            self.db.conn.rollback()  # a failed COMMIT leaves the transaction open: end it
            raise

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

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self._read().query(sql, list(params)))

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.transaction():
            return int(self.db.execute(sql, list(params)).rowcount)

    def _insert(self, table: str, row: dict[str, Any], key: str = "id") -> int:
        with self.transaction():  # every table's key is an integer primary key: SQLite's rowid
            return int(self.db[table].insert(row).last_rowid)

    def _insert_many(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        with self.transaction():
            self.db[table].insert_all(rows, batch_size=1000)

    def close(self) -> None:
        for reader in list(self._readers):
            reader.close()
        self.db.conn.close()

    # -- locks shared by every process on this file ---------------------------------------
    def try_lock(self, name: str, owner: str, ttl: float) -> bool:
        with self.transaction():
            stamp = time.time()  # after waiting for the write lock, not before
            row = self.db.execute("select owner, expires_at from locks where name = ?", [name]).fetchone()
            if row is not None and row[0] != owner and row[1] > stamp:
                return False
            self.db.execute("insert or replace into locks (name, owner, expires_at, acquired_at) values (?, ?, ?, ?)",
                            [name, owner, stamp + ttl, now()])
            return True

    def release_lock(self, name: str, owner: str) -> None:
        with self.transaction():
            self.db.execute("delete from locks where name = ? and owner = ?", [name, owner])

    def lock_owner(self, name: str) -> str | None:
        row = self._read().execute("select owner, expires_at from locks where name = ?", [name]).fetchone()
        return row[0] if row is not None and row[1] > time.time() else None
