"""The store: the catalogue's single source of truth. All SQL of techmatch lives in this package.

One interface (`Store`), two backends: SQLite (the embedded default, one file) and PostgreSQL (shared by replicas on
many machines; `TECHMATCH_DATABASE_URL=postgresql://…`). Every committed listing write also appends to the store's
change log, which each process's indexes follow (see matcher.catalogue).
"""

from __future__ import annotations

from pathlib import Path

from matcher.settings import Database
from matcher.store.base import (
    CANDIDATE_SORTS,
    POSTGRES,
    SQLITE,
    Dialect,
    Not,
    Outsider,
    Store,
    one_of,
)
from matcher.store.schema import AVAILABLE, JSON_COLUMNS, LISTING_TABLES, MIGRATIONS, TABLES, now
from matcher.store.sqlite import SQLiteStore


def open_store(url: Database | str | Path, pool_size: int = 10) -> Store:
    """The store at `url`: `postgresql://…` for PostgreSQL, `sqlite:///path` or a plain path for a SQLite file."""
    db = url if isinstance(url, Database) else Database.parse(url)
    if db.postgres:
        from matcher.store.postgres import PostgresStore  # psycopg is needed only by deployments that use it

        return PostgresStore(db.url, pool_size)
    return SQLiteStore(db.path)


__all__ = ["AVAILABLE", "CANDIDATE_SORTS", "JSON_COLUMNS", "LISTING_TABLES", "MIGRATIONS", "POSTGRES", "SQLITE",
           "TABLES", "Dialect", "Not", "Outsider", "SQLiteStore", "Store", "now", "one_of",
           "open_store"]
