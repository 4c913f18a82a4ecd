"""Hubness of listings: how close an item sits to the other side of the catalogue as a whole.

Some listings are near everything in embedding space: broad titles (「食品包装材料研究开发」, 「智能巡检机器人」)
or texts written in the platform's boilerplate. They crowd the top of many rankings and push specific, better
matches down. Following CSLS (cross-domain similarity local scaling), an item's hubness is the mean of its `k`
highest similarities to the other side's listings; the hybrid subtracts a share of it from the dense score, so a
result ranks high for a need because it is close to *this* need, not because it is close to every need.

A figure is computed when a query first pools the item (or by `refresh`, which a long-running process calls in the
background until the whole side is covered) and kept while it stays true enough: it is recomputed when the item
itself changes, and when the other side has changed by more than `HUB_DRIFT` of its size since — one new need moves
a result's mean of 50 similarities by at most 1/50 of their spread, and only when the need is among its 50 closest.
Below 100 items on the other side any change recomputes (the figures are then exact and cheap). So writes no longer
throw away every figure: at 1M results and 10k needs a cold figure costs ~0.1 ms per item (400 per query).

The other side's hidden listings (confidential needs) are left out of every figure: a figure shapes rankings every
caller sees, so it is a statistic of what every caller may read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence

import numpy as np

from matcher.retrieval.index import VectorIndex

HUB_K = 50  # neighbours on the other side whose similarities are averaged
# on bdci-dev, 0.25–0.75 with k = 20–50 all lift T2 Recall@100 (0.61–0.66, 0.60 without); 0.5 with k = 50 is the
# setting that also helps csl-dev kw2related (T2 nDCG@10 0.538 vs 0.523) instead of trading it away
HUB_WEIGHT = 0.5
HUB_DRIFT = 0.01  # share of the other side that may change before a figure is recomputed
REFRESH_CHUNK = 1024  # items per block product when figures are refreshed in the background


def _key(side: VectorIndex, other: VectorIndex) -> tuple[int, int, int, int]:
    """Which pair of indexes the figures belong to: replacing either (a build) voids them all."""
    return (id(side), side.generation, id(other), other.generation)


def corrected(dense: float, hubness: float, weight: float = HUB_WEIGHT) -> float:
    """A dense score less `weight` × the item's hubness: what the hybrid fuses and calibration reads."""
    return dense - weight * hubness


class Hubness:
    """Hubness figures of one side's items against the other side's index, kept by item id in flat arrays."""

    def __init__(self, k: int = HUB_K, drift: float = HUB_DRIFT,
                 hidden: Callable[[], Collection[int]] = frozenset) -> None:
        self.k, self.drift = k, drift
        self.hidden = hidden  # the other side's hidden ids, left out of every figure
        self._lock = threading.Lock()
        self._covered: tuple | None = None  # (key, side version, other edits) when `refresh` last found all fresh
        self._swept: tuple | None = None  # (key, side edits) at the start of the last complete `refresh`
        self._reset(None)

    def _reset(self, key: tuple | None) -> None:
        self._key = key
        self._value = np.zeros(0, dtype=np.float32)  # NaN: not computed
        self._side_at = np.zeros(0, dtype=np.int64)  # the side's edit count when computed
        self._other_at = np.zeros(0, dtype=np.int64)  # the other side's edit count when computed

    def clear(self) -> None:
        """Forget every figure (benchmarks measure the cold cost with it)."""
        with self._lock:
            self._reset(None)
            self._covered = self._swept = None

    def tolerance(self, other: VectorIndex) -> int:
        """Changes on the other side a figure outlives."""
        return int(self.drift * len(other)) if len(other) >= 100 else 0

    def of(self, side: VectorIndex, other: VectorIndex | None, ids: Sequence[int]) -> dict[int, float]:
        """{id: mean of the item's top-k cosine similarities to the other side} (0 when that side is empty)."""
        wanted = np.fromiter((int(i) for i in ids), dtype=np.int64, count=len(ids))
        if other is None or not len(other) or not len(wanted):
            return dict.fromkeys(wanted.tolist(), 0.0)
        return dict(zip(wanted.tolist(), self._figures(side, other, wanted).astype(float).tolist()))

    def _figures(self, side: VectorIndex, other: VectorIndex, wanted: np.ndarray) -> np.ndarray:
        key = _key(side, other)
        side_edits, other_edits = side.edits, other.edits  # read before the vectors: a change meanwhile voids them
        with self._lock:
            if key != self._key:
                self._reset(key)
            values = np.full(len(wanted), np.nan, dtype=np.float32)
            side_at = np.zeros(len(wanted), dtype=np.int64)
            inside = np.flatnonzero((wanted >= 0) & (wanted < len(self._value)))
            at = wanted[inside]
            fresh = other_edits - self._other_at[at] <= self.tolerance(other)
            values[inside[fresh]] = self._value[at[fresh]]
            side_at[inside] = self._side_at[at]
        known = np.flatnonzero(~np.isnan(values))
        if len(known):
            values[known[side.changed_after(wanted[known], side_at[known])]] = np.nan
        missing = np.flatnonzero(np.isnan(values))
        if len(missing):
            values[missing] = self._compute(side, other, wanted[missing])
            with self._lock:
                if key == self._key:
                    self._keep(wanted[missing], values[missing], side_edits, other_edits, len(side))
        return np.nan_to_num(values, nan=0.0)

    def _compute(self, side: VectorIndex, other: VectorIndex, ids: np.ndarray) -> np.ndarray:
        """Figures of these items (NaN for an item the index does not hold: removed)."""
        vectors = side.vectors(ids.tolist())
        absent = ~vectors.any(axis=1)
        return np.where(absent, np.nan, self._means(vectors, other)).astype(np.float32)

    def _means(self, vectors: np.ndarray, other: VectorIndex) -> np.ndarray:
        hidden = self.hidden()
        sims = other.scores_all(vectors, hidden)  # one BLAS product: ~7x faster than a k-NN search per item
        if sims is not None:
            k = min(self.k, sims.shape[1] - len(hidden))
            if k <= 0:
                return np.zeros(len(vectors), dtype=np.float32)
            return np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
        scores, found = other.search(vectors, self.k, excluded=hidden)
        valid = found >= 0
        return np.where(valid, scores, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)

    def _keep(self, ids: np.ndarray, values: np.ndarray, side_edits: int, other_edits: int, size: int) -> None:
        """Store figures by id; ids far beyond the side's size (a sparse id space) are not kept (caller holds the
        lock)."""
        limit = 4 * (size + 1) + (1 << 20)
        ok = (ids >= 0) & (ids < limit)
        ids, values = ids[ok], values[ok]
        if not len(ids):
            return
        top = int(ids.max()) + 1
        if top > len(self._value):
            grow = max(top, 2 * len(self._value))
            self._value = np.concatenate([self._value, np.full(grow - len(self._value), np.nan, np.float32)])
            self._side_at = np.concatenate([self._side_at, np.zeros(grow - len(self._side_at), np.int64)])
            self._other_at = np.concatenate([self._other_at, np.zeros(grow - len(self._other_at), np.int64)])
        self._value[ids] = values
        self._side_at[ids] = side_edits
        self._other_at[ids] = other_edits

    def export(self, side: VectorIndex, other: VectorIndex | None) -> dict[str, np.ndarray]:
        """The figures still fresh, for a snapshot: ids, values and the drift each has already taken (how many changes
        of the other side since it was computed), so a process loading the snapshot goes on counting from there."""
        key = _key(side, other) if other is not None else None
        with self._lock:
            if key is None or key != self._key:
                ids = np.zeros(0, dtype=np.int64)
            else:
                ids = np.flatnonzero(~np.isnan(self._value)).astype(np.int64)
            values, side_at = self._value[ids], self._side_at[ids]
            drift = (other.edits - self._other_at[ids]) if other is not None else np.zeros(0, dtype=np.int64)
        ok = (drift <= self.tolerance(other)) if other is not None else np.zeros(0, dtype=bool)
        if ok.any():
            ok[ok] = ~side.changed_after(ids[ok], side_at[ok])
        return {"k": np.asarray(self.k), "ids": ids[ok], "values": values[ok], "drift": drift[ok]}

    def adopt(self, side: VectorIndex, other: VectorIndex | None, saved: dict[str, np.ndarray]) -> int:
        """Take figures a snapshot holds (written by `export` with the indexes this process just loaded); returns how
        many. Figures of another `k` are ignored."""
        if other is None or int(saved["k"]) != self.k:
            return 0
        ids = np.asarray(saved["ids"], dtype=np.int64)
        values = np.asarray(saved["values"], dtype=np.float32)
        drift = np.asarray(saved["drift"], dtype=np.int64)
        if not (len(ids) == len(values) == len(drift)):
            raise ValueError("inconsistent hubness arrays")
        key = _key(side, other)
        with self._lock:
            if key != self._key:
                self._reset(key)
            self._keep(ids, values, side.edits, 0, len(side))
            kept = (ids >= 0) & (ids < len(self._value))
            self._other_at[ids[kept]] = other.edits - drift[kept]
        return int(kept.sum())

    def refresh(self, side: VectorIndex, other: VectorIndex | None, budget: float = 1.0) -> int:
        """Compute the figures of items that have none or a stale one, for up to `budget` seconds (a background
        thread calls it, so queries find them ready); returns how many are still missing or stale.

        The first pass sweeps every id of the side; later passes look only at items changed since the last complete
        pass and at figures the other side's changes made stale, so a large catalogue is not scanned after every
        write."""
        if other is None or not len(other) or not len(side):
            return 0
        key = _key(side, other)
        state = (key, side.version, other.edits)
        if state == self._covered:
            return 0  # nothing changed since every figure was fresh
        side_edits = side.edits
        with self._lock:
            if key != self._key:
                self._reset(key)
            swept = self._swept[1] if self._swept is not None and self._swept[0] == key else None
        if swept is None:
            todo = self._sweep(side, other)
        else:
            changed = side.touched_since(swept)
            with self._lock:
                held = np.flatnonzero(~np.isnan(self._value))
                stale = held[other.edits - self._other_at[held] > self.tolerance(other)]
            todo = np.union1d(changed, stale)
        end = time.monotonic() + budget
        done = 0
        while done < len(todo) and time.monotonic() < end:
            self._figures(side, other, todo[done:done + REFRESH_CHUNK])
            done += REFRESH_CHUNK
        left = max(0, len(todo) - done)
        if not left:
            self._covered = state
            with self._lock:
                if key == self._key:
                    self._swept = (key, side_edits)
        return left

    def _sweep(self, side: VectorIndex, other: VectorIndex) -> np.ndarray:
        """Every id of the side without a fresh figure."""
        ids = np.asarray(side.ids(), dtype=np.int64)
        with self._lock:
            inside = (ids >= 0) & (ids < len(self._value))
            good = np.zeros(len(ids), dtype=bool)
            at = ids[inside]
            good[inside] = ~np.isnan(self._value[at]) & (other.edits - self._other_at[at] <= self.tolerance(other))
            side_at = self._side_at[ids[good]]
        todo = ids[~good]
        if good.any():
            todo = np.concatenate([todo, ids[good][side.changed_after(ids[good], side_at)]])
        return todo
