"""The store: the catalogue's single source of truth (SQLite by default). All SQL of techmatch lives in this package.

Every committed listing write also appends to the store's change log, which each process's indexes follow
(see matcher.catalogue).
"""

from matcher.store.schema import JSON_COLUMNS, LISTING_TABLES, MIGRATIONS, TABLES, now
from matcher.store.sqlite import CANDIDATE_SORTS, Store, listing_order, listing_where

__all__ = ["CANDIDATE_SORTS", "JSON_COLUMNS", "LISTING_TABLES", "MIGRATIONS", "TABLES", "Store", "listing_order",
           "listing_where", "now"]
