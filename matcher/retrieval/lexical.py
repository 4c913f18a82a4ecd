"""BM25 over a catalogue side: raw term counts in memory, updated in place, weighted at query time.

Layout: an immutable *base* (raw term counts of its rows as CSR and CSC, their ids and lengths) with an alive mask
for rows removed or replaced since it was built, plus a small *delta* (id -> term ids and counts) of documents added
or replaced since then. Document frequencies, the number of documents and the total length are kept up to date on
every add and remove, so idf and length normalisation are applied when a query is scored, on the query's columns only;
nothing is ever rebuilt on the query path. `compact()` folds the delta into a new base (built outside the lock,
swapped in under it); it runs on its own when the delta and the dead rows outgrow max(2000, 5% of the base).

Documents added as *hidden* (confidential needs) are searchable like any other, but their share of the statistics
is also kept apart, so a query can be weighed by the statistics of the public documents alone (`public=True`):
an outsider's scores and ranking then depend on no text it may not see — not even through a term's rarity.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, count
from math import log, log1p
from pathlib import Path

import numpy as np
from scipy import sparse

from matcher.retrieval.text import TOKENIZERS

FORMAT = 2  # 2: the ids of hidden documents are saved (their statistics are kept apart)
COMPACT_MIN = 2000  # compact once the delta plus dead base rows exceed this many documents …
COMPACT_SHARE = 0.05  # … and this share of the base

_EMPTY_I64 = np.zeros(0, dtype=np.int64)
_EMPTY_F32 = np.zeros(0, dtype=np.float32)
_EMPTY_F64 = np.zeros(0, dtype=np.float64)


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenation of arange(lo[i], hi[i]) for every i, vectorised."""
    sizes = hi - lo
    total = int(sizes.sum())
    if not total:
        return _EMPTY_I64
    starts = np.cumsum(sizes) - sizes
    return np.arange(total, dtype=np.int64) + np.repeat(lo.astype(np.int64) - starts, sizes)


def _column_bounds(csc: sparse.csc_matrix, lengths: np.ndarray, chunk: int = 1 << 22
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the highest count and the shortest row holding it (in slices of columns, so the gathered row
    lengths never take more than `chunk` entries of memory at once)."""
    tf_max = np.zeros(csc.shape[1], dtype=np.float64)
    len_min = np.zeros(csc.shape[1], dtype=np.float64)
    indptr = csc.indptr.astype(np.int64)
    held = np.flatnonzero(np.diff(indptr) > 0)
    if not len(held):
        return tf_max, len_min
    starts = indptr[held]
    cuts = np.unique(np.concatenate([np.searchsorted(starts, np.arange(0, int(indptr[-1]), chunk)), [len(held)]]))
    for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        cols, first, end = held[a:b], int(starts[a]), int(indptr[held[b - 1] + 1])
        at = starts[a:b] - first  # every column in the slice holds something: reduceat's segments are the columns
        tf_max[cols] = np.maximum.reduceat(csc.data[first:end], at)
        len_min[cols] = np.minimum.reduceat(lengths[csc.indices[first:end]], at)
    return tf_max, len_min


@dataclass(frozen=True)
class _Base:
    """Raw term counts of a fixed set of documents; never modified once built."""

    ids: np.ndarray  # int64 (n,)
    csr: sparse.csr_matrix  # term counts (uint8, uint16 or float32), (n, vocabulary size when built)
    csc: sparse.csc_matrix  # the same counts by column
    lengths: np.ndarray  # float64 (n,): sum of each row's counts
    rows: dict[int, int]  # id -> row
    tf_max: np.ndarray  # float64 per column: the highest count of the term in any row (0: no row holds it)
    len_min: np.ndarray  # float64 per column: the shortest row holding the term (with tf_max: a score bound)

    @classmethod
    def build(cls, ids: np.ndarray, csr: sparse.csr_matrix) -> _Base:
        top = float(csr.data.max()) if csr.nnz else 0.0
        # counts are whole numbers: the smallest type that holds them (a quarter of float32's memory, mostly)
        csr = sparse.csr_matrix(csr, dtype=np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.float32)
        lengths = np.asarray(csr.sum(axis=1, dtype=np.float64), dtype=np.float64).ravel()
        csc = csr.tocsc()
        tf_max, len_min = _column_bounds(csc, lengths)
        return cls(ids, csr, csc, lengths, dict(zip(ids.tolist(), range(len(ids)))), tf_max, len_min)

    @classmethod
    def empty(cls) -> _Base:
        return cls.build(_EMPTY_I64, sparse.csr_matrix((0, 0), dtype=np.float32))

    def terms_of(self, row: int) -> np.ndarray:
        return self.csr.indices[self.csr.indptr[row]:self.csr.indptr[row + 1]]


def _kth(values: np.ndarray, k: int) -> float:
    """The k-th largest value (0 when there are fewer than k)."""
    return float(np.partition(values, len(values) - k)[len(values) - k]) if len(values) >= k else 0.0


@dataclass(frozen=True)
class _DeltaView:
    """The delta's documents as flat arrays sorted by term id (rebuilt lazily after the delta changes)."""

    ids: np.ndarray  # int64 (m,), in the delta's order
    lengths: np.ndarray  # float64 (m,)
    cols: np.ndarray  # term ids, sorted
    rows: np.ndarray  # position in `ids` of each entry
    tf: np.ndarray  # float32 counts
    index: dict[int, int]  # id -> position

    @classmethod
    def build(cls, delta: dict[int, tuple[np.ndarray, np.ndarray]]) -> _DeltaView:
        ids = np.fromiter(delta.keys(), dtype=np.int64, count=len(delta))
        parts = list(delta.values())
        if not parts:
            return cls(ids, np.zeros(0), np.zeros(0, dtype=np.int32), _EMPTY_I64, _EMPTY_F32, {})
        sizes = np.fromiter((len(p[0]) for p in parts), dtype=np.int64, count=len(parts))
        cols = np.concatenate([p[0] for p in parts])
        tf = np.concatenate([p[1] for p in parts])
        rows = np.repeat(np.arange(len(parts), dtype=np.int64), sizes)
        lengths = np.bincount(rows, weights=tf, minlength=len(parts))
        order = np.argsort(cols, kind="stable")
        return cls(ids, lengths, cols[order], rows[order], tf[order], dict(zip(ids.tolist(), range(len(ids)))))


class LexicalIndex:
    """Okapi BM25 with a chosen tokenizer; ids are the store's integer ids."""

    def __init__(self, tokenizer: str = "bigram", k1: float = 1.2, b: float = 0.75) -> None:
        self.tokenizer_name = tokenizer
        self.tokenize = TOKENIZERS[tokenizer]
        self.k1, self.b = k1, b
        self.lock = threading.RLock()
        # term -> id; ids are handed out in insertion order and never taken back, so list(terms) is id order
        # (a defaultdict whose default_factory is set only while `add` hands out ids: a plain dict otherwise)
        self.terms: defaultdict[str, int] = defaultdict(None)
        self._df = np.zeros(1024, dtype=np.int64)  # per-term document frequency (capacity grows by doubling)
        self._total = 0.0  # sum of the lengths of every live document
        # the hidden documents' share of those statistics (public = all − hidden)
        self._hidden: set[int] = set()
        self._df_hidden = np.zeros(1024, dtype=np.int64)
        self._total_hidden = 0.0
        self._base = _Base.empty()
        self._alive = np.zeros(0, dtype=bool)
        self._n_alive = 0
        self._delta: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._view: _DeltaView | None = None
        self._compacting = threading.Lock()
        self._touched: set[int] | None = None  # ids changed while a compaction is building

    # -- size and statistics -------------------------------------------------------------
    def __len__(self) -> int:
        with self.lock:
            return self._n_alive + len(self._delta)

    @property
    def _matrix(self) -> sparse.csc_matrix:
        """The base's raw counts (benchmarks read its size)."""
        return self._base.csc

    def size(self, public: bool = False) -> int:
        """Live documents, or the public ones among them."""
        with self.lock:
            return self._stats(public)[0]

    def hidden_ids(self) -> frozenset[int]:
        """The ids of the live hidden documents."""
        with self.lock:
            return frozenset(self._hidden)

    def _idf(self, df: np.ndarray | float, n: int) -> np.ndarray | float:
        if isinstance(df, np.ndarray):
            return np.log1p((n - df + 0.5) / (df + 0.5))
        return log1p((n - df + 0.5) / (df + 0.5))

    def _stats(self, public: bool) -> tuple[int, float]:
        """(documents, total length) over every live document, or over the public ones (caller holds the lock)."""
        n = self._n_alive + len(self._delta)
        if public:
            return n - len(self._hidden), self._total - self._total_hidden
        return n, self._total

    def _df_of(self, col: int, public: bool) -> int:
        return int(self._df[col] - (self._df_hidden[col] if public else 0))

    def idf(self, term: str, public: bool = False) -> float:
        """Inverse document frequency of a term (0 for unseen terms and terms no document holds any more); with
        `public`, over the public documents alone (0 for a term only hidden documents hold)."""
        with self.lock:
            col = self.terms.get(term)
            df = self._df_of(col, public) if col is not None else 0
            return float(self._idf(df, self._stats(public)[0])) if df > 0 else 0.0

    # -- updates -----------------------------------------------------------------------------
    def add(self, ids: Sequence[int], texts: Sequence[str], hidden: Iterable[int] = ()) -> None:
        """Insert or replace documents; those whose ids are in `hidden` are hidden ones (see the module's doc)."""
        ids = [int(i) for i in ids]
        hidden = {int(i) for i in hidden}
        texts = list(texts)
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        docs = {item: Counter(self.tokenize(t)) for item, t in zip(ids, texts)}  # a repeated id: the last text wins
        # the whole batch as flat arrays: one vocabulary pass instead of a Python loop per term
        flat = list(chain.from_iterable(docs.values()))
        tf = np.fromiter(chain.from_iterable(c.values() for c in docs.values()), dtype=np.float32, count=len(flat))
        ends = np.cumsum(np.fromiter(map(len, docs.values()), dtype=np.int64, count=len(docs))).tolist()
        with self.lock:
            self._discard(docs)
            terms = self.terms
            terms.default_factory = count(len(terms)).__next__  # an unseen term gets the next id, all in C
            try:
                term_ids = np.fromiter(map(terms.__getitem__, flat), dtype=np.int32, count=len(flat))
            finally:
                terms.default_factory = None
            for item, start, end in zip(docs, [0, *ends[:-1]], ends):
                self._delta[item] = (term_ids[start:end], tf[start:end])
            if len(terms) > len(self._df):
                size = max(len(terms), 2 * len(self._df))
                self._df, self._df_hidden = (np.concatenate([a, np.zeros(size - len(a), dtype=np.int64)])
                                             for a in (self._df, self._df_hidden))
            self._bump([term_ids], +1)
            self._total += float(tf.sum(dtype=np.float64))
            secret = [(item, start, end) for item, start, end in zip(docs, [0, *ends[:-1]], ends) if item in hidden]
            if secret:
                self._hidden.update(item for item, _, _ in secret)
                self._bump([term_ids[a:b] for _, a, b in secret], +1, self._df_hidden)
                self._total_hidden += float(sum(tf[a:b].sum(dtype=np.float64) for _, a, b in secret))
            self._view = None
            due = self._due()
        if due:
            self._auto_compact()

    def remove(self, ids: Sequence[int]) -> None:
        """Remove documents; unknown ids are ignored."""
        with self.lock:
            self._discard([int(i) for i in ids])
            due = self._due()
        if due:
            self._auto_compact()

    def _discard(self, ids: Iterable[int]) -> None:
        """Take these documents out of the statistics, the delta and the base (caller holds the lock)."""
        base, alive, gone, total, gone_hidden, total_hidden = self._base, self._alive, [], 0.0, [], 0.0
        for item in ids:
            if self._touched is not None:
                self._touched.add(item)
            old = self._delta.pop(item, None)
            if old is not None:
                terms, length = old[0], float(old[1].sum())
                self._view = None
            else:
                row = base.rows.get(item)
                if row is None or not alive[row]:
                    continue
                alive[row] = False
                self._n_alive -= 1
                terms, length = base.terms_of(row), float(base.lengths[row])
            gone.append(terms)
            total += length
            if item in self._hidden:
                self._hidden.discard(item)
                gone_hidden.append(terms)
                total_hidden += length
        self._bump(gone, -1)
        self._total -= total
        self._bump(gone_hidden, -1, self._df_hidden)
        self._total_hidden -= total_hidden

    def _bump(self, term_arrays: list[np.ndarray], sign: int, df: np.ndarray | None = None) -> None:
        if not term_arrays:
            return
        df = self._df if df is None else df
        cols = np.concatenate(term_arrays)
        vocab = len(self.terms)
        if len(cols) > vocab // 4:
            df[:vocab] += sign * np.bincount(cols, minlength=vocab)
        else:
            np.add.at(df, cols, sign)

    # -- compaction --------------------------------------------------------------------------
    def _due(self) -> bool:
        pending = len(self._delta) + len(self._base.ids) - self._n_alive
        return pending > max(COMPACT_MIN, COMPACT_SHARE * len(self._base.ids))

    def _auto_compact(self) -> None:
        if self._compacting.acquire(blocking=False):  # one already under way will do
            try:
                self._compact()
            finally:
                self._compacting.release()

    def compact(self) -> None:
        """Fold the delta and the dead rows into a new base. Queries and updates go on while it is built; updates
        made meanwhile are carried over. Do not call it while holding `lock` (lock order: compaction, then `lock`)."""
        with self._compacting:
            self._compact()

    def _compact(self) -> None:
        with self.lock:
            base, alive, delta = self._base, self._alive.copy(), dict(self._delta)
            vocab = len(self.terms)
            if not delta and alive.all():
                return
            self._touched = set()
        try:
            new = self._merge(base, alive, delta, vocab)
        except BaseException:
            with self.lock:
                self._touched = None
            raise
        with self.lock:
            touched, self._touched = self._touched, None
            new_alive = np.ones(len(new.ids), dtype=bool)
            for item in touched:  # changed since the copy: the base's version is stale
                row = new.rows.get(item)
                if row is not None:
                    new_alive[row] = False
            self._base, self._alive, self._n_alive = new, new_alive, int(new_alive.sum())
            self._delta = {item: doc for item, doc in self._delta.items() if item in touched}
            self._view = None

    @staticmethod
    def _merge(base: _Base, alive: np.ndarray, delta: dict[int, tuple[np.ndarray, np.ndarray]],
               vocab: int) -> _Base:
        """A new base of the base's alive rows followed by the delta's documents."""
        keep = np.flatnonzero(alive)
        old = base.csr[keep] if len(keep) < len(alive) else base.csr
        parts = list(delta.values())
        sizes = np.fromiter((len(p[0]) for p in parts), dtype=np.int64, count=len(parts))
        indptr = np.concatenate([old.indptr.astype(np.int64), old.nnz + np.cumsum(sizes)])
        indices = np.concatenate([old.indices.astype(np.int32)] + [p[0] for p in parts])
        data = np.concatenate([old.data.astype(np.float32)] + [p[1] for p in parts])
        ids = np.concatenate([base.ids[keep], np.fromiter(delta.keys(), dtype=np.int64, count=len(delta))])
        csr = sparse.csr_matrix((data, indices, indptr), shape=(len(ids), vocab))
        return _Base.build(ids, csr)

    # -- scoring -----------------------------------------------------------------------------
    def _query(self, tokens: Counter, public: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
        """(term ids, idf × (1 + ln count), average document length) of the query's terms that some document holds
        (caller holds the lock); with `public`, idf and length from the public documents' statistics alone."""
        cols, weights = [], []
        n, total = self._stats(public)
        for term, times in tokens.items():
            col = self.terms.get(term)
            if col is not None and self._df[col] > 0:
                cols.append(col)
                weights.append(self._idf(float(self._df_of(col, public)), n) * (1.0 + log(times)))
        avgdl = max(total / n if n else 1.0, 1e-6)
        return np.asarray(cols, dtype=np.int64), np.asarray(weights, dtype=np.float64), avgdl

    def _weigh(self, tf: np.ndarray, lengths: np.ndarray, term_weight: np.ndarray, avgdl: float) -> np.ndarray:
        norm = self.k1 * (1 - self.b + self.b * lengths / avgdl)
        return term_weight * tf * (self.k1 + 1) / (tf + norm)

    def _score(self, query: str, public: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(scores of every base row, 0 for dead rows; scores of the delta's documents in view order), caller holds
        the lock."""
        tokens = Counter(self.tokenize(query))
        base, view = self._base, self._delta_view()
        cols, weights, avgdl = self._query(tokens, public)
        base_scores = np.zeros(len(base.ids), dtype=np.float64)
        delta_scores = np.zeros(len(view.ids), dtype=np.float64)
        if not len(cols):
            return base_scores, delta_scores
        inside = cols < base.csc.shape[1]
        if inside.any() and len(base.ids):
            c, w = cols[inside], weights[inside]
            lo, hi = base.csc.indptr[c], base.csc.indptr[c + 1]
            at = _ranges(lo, hi)
            rows = base.csc.indices[at]
            term_weight = np.repeat(w, hi - lo)
            contrib = self._weigh(base.csc.data[at].astype(np.float64), base.lengths[rows], term_weight, avgdl)
            base_scores = np.bincount(rows, weights=contrib, minlength=len(base.ids))
            base_scores[~self._alive] = 0.0
        if len(view.ids):
            delta_scores = self._delta_scores(view, cols, weights, avgdl)
        return base_scores, delta_scores

    def _delta_view(self) -> _DeltaView:
        """The delta as flat arrays, rebuilt after it changed (caller holds the lock)."""
        if self._view is None:
            self._view = _DeltaView.build(self._delta)
        return self._view

    def _delta_scores(self, view: _DeltaView, cols: np.ndarray, weights: np.ndarray, avgdl: float) -> np.ndarray:
        """Scores of every delta document (view order) for the query's terms."""
        lo, hi = np.searchsorted(view.cols, cols, "left"), np.searchsorted(view.cols, cols, "right")
        at = _ranges(lo, hi)
        rows = view.rows[at]
        contrib = self._weigh(view.tf[at].astype(np.float64), view.lengths[rows], np.repeat(weights, hi - lo), avgdl)
        return np.bincount(rows, weights=contrib, minlength=len(view.ids))

    def search(self, query: str, k: int, allowed: Sequence[int] | None = None, public: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k best documents with a positive score, best first (ties in index order); with
        `public`, scored by the public documents' statistics (see the module's doc)."""
        with self.lock:
            if allowed is None:
                ids, scores = self._top_candidates(query, k, public)
            else:
                base_scores, delta_scores = self._score(query, public)
                rows = np.flatnonzero(base_scores > 0)
                hits = np.flatnonzero(delta_scores > 0)
                ids = np.concatenate([self._base.ids[rows], self._view.ids[hits]])
                scores = np.concatenate([base_scores[rows], delta_scores[hits]])
        scores = scores.astype(np.float32)
        if allowed is not None:
            keep = np.isin(ids, np.asarray(allowed, dtype=np.int64))
            ids, scores = ids[keep], scores[keep]
        keep = scores > 0
        ids, scores = ids[keep], scores[keep]
        k = min(int(k), len(scores))
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        if k < len(scores):  # the k best, ties at the cut taken in index order
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            above = np.flatnonzero(scores > kth)
            level = np.flatnonzero(scores == kth)[:k - len(above)]
            pick = np.sort(np.concatenate([above, level]))
            ids, scores = ids[pick], scores[pick]
        order = np.argsort(-scores, kind="stable")
        return scores[order], ids[order]

    def _top_candidates(self, query: str, k: int, public: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(ids, exact scores) of a set of documents that holds every one scoring at least the k-th best — base
        rows in index order, then the delta's — found with MaxScore pruning (caller holds the lock).

        Terms are taken from the highest possible contribution down (a term's bound: its largest count in the
        shortest row holding it), their posting lists added into one accumulator. Once the bounds of the terms
        left add up to less than the k-th best partial score, no document outside those seen can reach the top k:
        the rest of the terms are scored on the seen documents that still can, through their rows. Character
        bigrams common to most listings have posting lists the size of the catalogue and low weights; they are
        the terms this skips, so a query at 1M reads a fraction of the postings. The same top k as scoring
        everything (the tests compare the two)."""
        k = max(int(k), 1)
        base, view = self._base, self._delta_view()
        cols, weights, avgdl = self._query(Counter(self.tokenize(query)), public)
        delta = self._delta_scores(view, cols, weights, avgdl) if len(view.ids) and len(cols) else _EMPTY_F64
        hits = np.flatnonzero(delta > 0)
        delta_ids, delta_top = view.ids[hits], delta[hits]
        inside = cols < base.csc.shape[1]
        cols, weights = cols[inside], weights[inside]
        if not len(cols) or not len(base.ids):
            return delta_ids, delta_top
        bound = self._weigh(base.tf_max[cols], base.len_min[cols], weights, avgdl) * (1 + 1e-9)
        order = np.argsort(-bound, kind="stable")
        cols, weights, bound = cols[order], weights[order], bound[order]
        rest = np.append(np.cumsum(bound[::-1])[::-1], 0.0)  # rest[i]: the most terms i… can still add
        acc = np.zeros(len(base.ids), dtype=np.float64)
        csc, alive, split, theta, unchecked = base.csc, self._alive, len(cols), 0.0, 0
        for i in range(len(cols)):
            lo, hi = int(csc.indptr[cols[i]]), int(csc.indptr[cols[i] + 1])
            rows = csc.indices[lo:hi]
            acc[rows] += self._weigh(csc.data[lo:hi].astype(np.float64), base.lengths[rows], weights[i], avgdl)
            unchecked += hi - lo
            if rest[i + 1] >= rest[0] - rest[i + 1]:
                continue  # the k-th partial score cannot exceed what the terms so far add up to: go on
            # a lower bound of the k-th partial score: the k-th among this term's documents (cheap), or among all
            # seen so far once the postings read since the last full look add up to a quarter of the catalogue
            pool = rows if unchecked < len(acc) // 4 else np.flatnonzero(acc)
            if pool is not rows:
                unchecked = 0
            theta = max(theta, _kth(np.concatenate([acc[pool][alive[pool]], delta_top]), k))
            if rest[i + 1] < theta:
                split = i + 1
                break
        if split == len(cols):
            seen = np.flatnonzero(acc)
            seen = seen[alive[seen]]
            return np.concatenate([base.ids[seen], delta_ids]), np.concatenate([acc[seen], delta_top])
        # the rest of the terms, on the documents that can still reach the top k: first the most promising, whose
        # exact scores raise the bar, then those still above it
        left, left_w = cols[split:], weights[split:]
        seen = np.flatnonzero(acc >= theta - rest[split]) if theta > rest[split] else np.flatnonzero(acc)
        seen = seen[alive[seen]]
        scores = acc[seen]
        m = max(4 * k, 1000)
        first = np.argpartition(-scores, m - 1)[:m] if len(scores) > m else np.arange(len(scores))
        scores[first] += self._row_scores(seen[first], left, left_w, avgdl)
        theta = max(theta, _kth(np.concatenate([scores[first], delta_top]), k))
        done = np.zeros(len(seen), dtype=bool)
        done[first] = True
        keep = done | (scores + rest[split] >= theta)
        seen, scores, done = seen[keep], scores[keep], done[keep]
        todo = np.flatnonzero(~done)
        if len(todo):
            scores[todo] += self._row_scores(seen[todo], left, left_w, avgdl)
        return np.concatenate([base.ids[seen], delta_ids]), np.concatenate([scores, delta_top])

    def _row_scores(self, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, avgdl: float) -> np.ndarray:
        """Scores of these base rows for these terms (all in the base's vocabulary), read from the rows."""
        base = self._base
        part = base.csr[rows][:, cols].tocoo()  # these documents × these terms: counts
        contrib = self._weigh(part.data.astype(np.float64), base.lengths[rows[part.row]], weights[part.col], avgdl)
        return np.bincount(part.row, weights=contrib, minlength=len(rows))

    def score_ids(self, query: str, ids: Sequence[int], public: bool = False) -> np.ndarray:
        """BM25 scores of the query against these documents (0 for unknown ids); `public` as in `search`.

        Reads only these documents' rows (the row-major copy of the matrix), not the query terms' whole posting
        lists: the same scores as `search` gives them, at a cost that does not grow with the catalogue."""
        out = np.zeros(len(ids), dtype=np.float32)
        with self.lock:
            cols, weights, avgdl = self._query(Counter(self.tokenize(query)), public)
            if not len(cols) or not len(ids):
                return out
            base, view = self._base, self._delta_view()
            base_at, base_rows, delta_at, delta_rows = [], [], [], []
            for i, item in enumerate(ids):
                item = int(item)
                pos = view.index.get(item)
                if pos is not None:
                    delta_at.append(i)
                    delta_rows.append(pos)
                    continue
                row = base.rows.get(item)
                if row is not None and self._alive[row]:
                    base_at.append(i)
                    base_rows.append(row)
            inside = cols < base.csr.shape[1]
            if base_rows and inside.any():
                out[base_at] = self._row_scores(np.asarray(base_rows, dtype=np.int64), cols[inside], weights[inside],
                                                avgdl)
            if delta_rows:
                out[delta_at] = self._delta_scores(view, cols, weights, avgdl)[delta_rows]
        return out

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the whole index (compacted) to one .npz file, atomically (temporary file, fsync, rename)."""
        path = Path(path)
        with self._compacting:  # lock order: the compaction lock first, then self.lock
            self._compact()
            with self.lock:
                self._compact()  # changed meanwhile: compact again, this time holding the lock throughout
                base = self._base
                terms = list(self.terms)
                k1, b, name = self.k1, self.b, self.tokenizer_name
                hidden = np.fromiter(sorted(self._hidden), dtype=np.int64, count=len(self._hidden))
        csr = base.csr
        # terms no document holds any more are left out of the file
        held = np.bincount(csr.indices, minlength=len(terms)) > 0
        if not held.all():
            remap = np.cumsum(held) - 1
            indices = remap[csr.indices].astype(np.int32)
            terms = [t for t, h in zip(terms, held.tolist()) if h]
        else:
            indices = csr.indices.astype(np.int32)
        top = float(csr.data.max()) if csr.nnz else 0.0
        counts = csr.data.astype(np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.float32)
        text = "\x00".join(terms).encode("utf-8")
        arrays = {
            "format": np.asarray(FORMAT), "tokenizer": np.asarray(name), "k1": np.asarray(k1, dtype=np.float64),
            "b": np.asarray(b, dtype=np.float64), "ids": base.ids.astype(np.int64),
            "indptr": csr.indptr.astype(np.int64), "indices": indices, "counts": counts,
            "terms": np.frombuffer(text, dtype=np.uint8), "term_lengths": np.fromiter(map(len, terms), np.int32),
            "hidden": hidden,
        }
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        try:  # make the rename durable too (not possible everywhere)
            fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    @classmethod
    def load(cls, path: Path, tokenizer: str | None = None) -> LexicalIndex:
        """Read an index written by `save`; with `tokenizer`, refuse a file built with another tokenizer."""
        with np.load(Path(path), allow_pickle=False) as z:
            if int(z["format"]) != FORMAT:
                raise ValueError(f"{path}: BM25 index format {int(z['format'])}, expected {FORMAT}")
            name = str(z["tokenizer"])
            if tokenizer is not None and name != tokenizer:
                raise ValueError(f"{path} was built with tokenizer {name!r}, not {tokenizer!r}")
            if name not in TOKENIZERS:
                raise ValueError(f"{path}: unknown tokenizer {name!r}")
            index = cls(name, float(z["k1"]), float(z["b"]))
            ids, indptr, indices = z["ids"], z["indptr"], z["indices"]
            counts, lengths = z["counts"], z["term_lengths"]
            text = z["terms"].tobytes().decode("utf-8")
            hidden = z["hidden"].astype(np.int64)
        terms = text.split("\x00")
        if len(terms) != len(lengths):
            ends = np.cumsum(lengths).tolist()  # some term holds the separator: cut by lengths instead
            terms = [text[e - n + i:e + i] for i, (e, n) in enumerate(zip(ends, lengths.tolist()))]
        if len(indptr) != len(ids) + 1 or int(indptr[-1]) != len(indices) or len(indices) != len(counts):
            raise ValueError(f"{path}: inconsistent BM25 arrays")
        if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= len(terms)):
            raise ValueError(f"{path}: term ids out of range")
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"{path}: duplicate document ids")
        csr = sparse.csr_matrix((counts, indices, indptr), shape=(len(ids), len(terms)))
        index.terms = defaultdict(None, zip(terms, range(len(terms))))
        index._base = _Base.build(ids.astype(np.int64), csr)
        index._alive = np.ones(len(ids), dtype=bool)
        index._n_alive = len(ids)
        index._df = np.bincount(indices, minlength=max(len(terms), 1)).astype(np.int64)
        index._total = float(index._base.lengths.sum())
        index._df_hidden = np.zeros_like(index._df)
        rows = [index._base.rows[i] for i in hidden.tolist() if i in index._base.rows]
        if len(rows) != len(hidden):
            raise ValueError(f"{path}: hidden ids that the index does not hold")
        index._hidden = set(hidden.tolist())
        if rows:
            index._bump([index._base.terms_of(r) for r in rows], +1, index._df_hidden)
            index._total_hidden = float(index._base.lengths[rows].sum())
        return index
