"""An embedding cache in SQLite keyed by encoder name, role and text hash: unchanged text is never encoded twice."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import Encoder, clean


class CachedEncoder(Encoder):
    """Wraps an encoder; looks every text up in the cache file before encoding it."""

    def __init__(self, inner: Encoder, path: Path | str) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.batch_size = inner.batch_size
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA busy_timeout=30000")  # several processes share the cache file
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "create table if not exists embeddings (encoder text, role text, hash text, vector blob, "
            "primary key (encoder, role, hash))"
        )
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _hash(text: str) -> str:
        return hashlib.blake2b(clean(text).encode("utf-8"), digest_size=16).hexdigest()

    def _lookup(self, role: str, texts: Sequence[str], fn) -> np.ndarray:
        hashes = [self._hash(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        found: dict[str, np.ndarray] = {}
        with self.lock:
            unique = list(dict.fromkeys(hashes))
            for start in range(0, len(unique), 900):
                chunk = unique[start:start + 900]
                rows = self.conn.execute(
                    f"select hash, vector from embeddings where encoder=? and role=? and hash in "
                    f"({','.join('?' * len(chunk))})", [self.name, role, *chunk]).fetchall()
                for h, blob in rows:
                    found[h] = np.frombuffer(blob, dtype=np.float32)
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

    def put(self, role: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors computed elsewhere (a bulk encoder, a benchmark's synthetic vectors) for these texts."""
        self._write([(self.name, role, self._hash(t), np.asarray(v, dtype=np.float32).tobytes())
                     for t, v in zip(texts, vectors)])

    def _write(self, rows: list[tuple]) -> None:
        """Insert rows in one transaction; a failure (another process holding the file too long) rolls back, so
        the connection stays usable and the next write tries again."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany("insert or replace into embeddings values (?, ?, ?, ?)", rows)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._lookup("query", texts, self.inner.encode_queries)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._lookup("document", texts, self.inner.encode_documents)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - routed above
        return self.inner.encode_queries(texts)

    def _encode_documents(self, texts: list[str]) -> np.ndarray:  # pragma: no cover
        return self.inner.encode_documents(texts)
