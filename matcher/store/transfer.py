"""Copy a whole catalogue from one store to another (`techmatch migrate --to postgresql://…`) and prove the copy.

Every table keeps its ids (decisions, pairings, audit, keys and users point at them), the embedding cache comes along
so nothing is encoded again, and the copy is one transaction on the target: a failure leaves it empty. The target's
own change log is written by its triggers as the listings arrive; its catalogue id stays its own, so index snapshots
of the source are never mistaken for the target's. Afterwards each table is counted and checksummed on both sides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from matcher.errors import Conflict
from matcher.store.base import Store

SKIPPED = ("meta", "changes", "locks")  # the target's own: its id, its log (written by its triggers), its locks
PAGE = 5000


@dataclass
class TransferReport:
    """Rows copied and checked per table; `ok` when every count and checksum agrees."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(t["source_rows"] == t["target_rows"] and t["source_sum"] == t["target_sum"]
                   for t in self.tables.values())


def checksum(store: Store, table: str, key: str = "id") -> tuple[int, str]:
    """Rows and a digest of a table's content in key order, comparable across backends."""
    digest = hashlib.blake2b(digest_size=16)
    count = 0
    for page in store.pages(table, key=key, size=PAGE):
        for row in page:
            values = [row[c] for c in sorted(row)]
            digest.update(json.dumps(values, ensure_ascii=False, default=_bytes, sort_keys=True).encode())
            count += 1
    return count, digest.hexdigest()


def _bytes(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return hashlib.blake2b(bytes(value), digest_size=16).hexdigest()
    raise TypeError(type(value).__name__)


def copy_catalogue(source: Store, target: Store, progress: Callable[[str, int], None] | None = None,
                   report: TransferReport | None = None) -> TransferReport:
    """Copy every table of `source` into the empty `target` in one transaction, then compare the two."""
    filled = [t for t in ("organisations", "needs", "results", "api_keys", "users") if target.count(t)]
    if filled:
        raise Conflict(f"the target catalogue is not empty ({', '.join(filled)} have rows); migrate into a new "
                       "database")
    tables = [t for t in source.tables() if t not in SKIPPED]
    with target.transaction():
        for table in tables:
            copied = 0
            for page in source.pages(table, size=PAGE):
                target._insert_many(table, page)
                copied += len(page)
                if progress:
                    progress(table, copied)
        target.reset_sequences()
    report = report or TransferReport()
    for table in tables:
        (src_rows, src_sum), (dst_rows, dst_sum) = checksum(source, table), checksum(target, table)
        report.tables[table] = {"source_rows": src_rows, "target_rows": dst_rows, "source_sum": src_sum,
                                "target_sum": dst_sum}
    return report


def copy_vectors(source: Any, target: Any, report: TransferReport,
                 progress: Callable[[str, int], None] | None = None) -> None:
    """Copy an embedding cache table (rows: encoder, role, hash, vector; see embeddings.cache.open_vectors) and add
    its counts and digests to the report."""
    copied = 0
    for rows in source.pages():
        target.put(rows)
        copied += len(rows)
        if progress:
            progress("embeddings", copied)
    report.tables["embeddings"] = {"source_rows": source.count(), "target_rows": target.count(),
                                   "source_sum": source.digest(), "target_sum": target.digest()}
