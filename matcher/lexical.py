"""BM25 over a catalogue side, kept in memory as a sparse matrix and updated item by item."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from .text import TOKENIZERS


class LexicalIndex:
    """Okapi BM25 with a chosen tokenizer; ids are the store's integer ids."""

    def __init__(self, tokenizer: str = "bigram", k1: float = 1.2, b: float = 0.75) -> None:
        self.tokenizer_name = tokenizer
        self.tokenize = TOKENIZERS[tokenizer]
        self.k1, self.b = k1, b
        # per document: (term ids, term counts) as small arrays; a Counter per document costs ~10x the memory
        self.docs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.terms: dict[str, int] = {}
        self.lock = threading.RLock()
        self._dirty = True
        self._ids = np.zeros(0, dtype=np.int64)
        self._row: dict[int, int] = {}
        self._vocab: dict[str, int] = {}
        self._idf = np.zeros(0, dtype=np.float32)
        self._matrix = sparse.csc_matrix((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.docs)

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        """Insert or replace documents."""
        counts = [Counter(self.tokenize(t)) for t in texts]
        with self.lock:
            for item, c in zip(ids, counts):
                term_ids = np.fromiter((self.terms.setdefault(t, len(self.terms)) for t in c), dtype=np.int32,
                                       count=len(c))
                self.docs[int(item)] = (term_ids, np.fromiter(c.values(), dtype=np.float32, count=len(c)))
            self._dirty = True

    def remove(self, ids: Sequence[int]) -> None:
        with self.lock:
            for item in ids:
                self.docs.pop(int(item), None)
            self._dirty = True

    def _build(self) -> None:
        ids = np.fromiter(self.docs.keys(), dtype=np.int64, count=len(self.docs))
        vocab = self.terms
        parts = [self.docs[int(i)] for i in ids]
        sizes = np.fromiter((len(p[0]) for p in parts), dtype=np.int64, count=len(parts))
        cols = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int32)
        vals = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.float32)
        rows = np.repeat(np.arange(len(ids)), sizes)
        lengths = np.bincount(rows, weights=vals, minlength=len(ids)).astype(np.float32)
        n = max(len(ids), 1)
        tf = sparse.csr_matrix((vals, (rows, cols)), shape=(len(ids), len(vocab)))
        df = np.bincount(cols.astype(np.int64), minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        avg = float(lengths.mean()) if len(lengths) else 1.0
        norm = self.k1 * (1 - self.b + self.b * lengths / max(avg, 1e-6))
        tf = tf.tocoo()
        weights = tf.data * (self.k1 + 1) / (tf.data + norm[tf.row]) * idf[tf.col]
        self._matrix = sparse.csc_matrix((weights.astype(np.float32), (tf.row, tf.col)), shape=tf.shape)
        self._ids, self._vocab, self._idf = ids, vocab, idf
        self._row = {int(item): r for r, item in enumerate(ids)}
        self._dirty = False

    def _ready(self) -> None:
        with self.lock:
            if self._dirty:
                self._build()

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term (0 for unseen terms)."""
        self._ready()
        col = self._vocab.get(term)
        return float(self._idf[col]) if col is not None else 0.0

    def _scores(self, query: str) -> np.ndarray:
        q = Counter(t for t in self.tokenize(query) if t in self._vocab)
        if not q or not len(self._ids):
            return np.zeros(len(self._ids), dtype=np.float32)
        cols = [self._vocab[t] for t in q]
        weights = np.asarray([1.0 + np.log(c) for c in q.values()], dtype=np.float32)
        return np.asarray(self._matrix[:, cols] @ weights).ravel()

    def search(self, query: str, k: int, allowed: Sequence[int] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best documents with a positive score, best first."""
        self._ready()
        with self.lock:
            scores = self._scores(query)
            ids = self._ids
        if allowed is not None:
            mask = np.isin(ids, np.asarray(allowed, dtype=np.int64))
            scores = np.where(mask, scores, 0.0)
        k = min(k, int((scores > 0).sum()))
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top], ids[top]

    def score_ids(self, query: str, ids: Sequence[int]) -> np.ndarray:
        """BM25 scores of the query against these documents (0 for unknown ids)."""
        self._ready()
        with self.lock:
            scores = self._scores(query)
            rows = [self._row.get(int(i), -1) for i in ids]
        return np.asarray([scores[r] if r >= 0 else 0.0 for r in rows], dtype=np.float32)
