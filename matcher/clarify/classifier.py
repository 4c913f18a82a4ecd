"""The cluster a need belongs to, suggested by a classifier trained on the catalogue's own labelled listings.

Logistic regression over the e5 passage vectors the live catalogue already holds (FAISS gives them back; nothing is
re-encoded), on every need and result filed under a cluster other than 其他. Vectors are centred on the training mean
and scaled back to unit length first (e5 vectors share a large common component), and clusters are weighted
inversely to their size, so a small catalogue's biggest cluster does not win every vague text. One model per service
object in this process, kept until the catalogue's applied change-log sequence moves on, then trained again on next
use.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from matcher.catalogue.indexes import Indexes
from matcher.store import Store

OTHER = "other"
MAX_TRAIN = 20_000  # listings a model is trained on at most (a seeded sample above that: seconds, not minutes)
C = 10.0  # inverse regularisation strength: on the demo catalogue's 598 labelled listings (5-fold CV) C=1 gives top-1
# 0.86, C=10 0.88, C=100 0.88 (benchmarks/bench_clarify.py measures the chosen one)


@dataclass
class ClusterModel:
    """A fitted classifier with the key of the catalogue state it was trained on."""

    key: tuple[str, str, int]
    classes: list[str]
    mean: np.ndarray
    model: LogisticRegression | None
    trained_on: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when it was trained

    def predict(self, vectors: np.ndarray) -> list[list[tuple[str, float]]]:
        """Per vector, every cluster with its probability, most likely first."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, len(self.mean))
        if self.model is None:  # one cluster only (or none): it is the answer, with no evidence against it
            return [[(c, 1.0) for c in self.classes] for _ in range(len(vectors))]
        proba = self.model.predict_proba(_centred(vectors, self.mean))
        order = np.argsort(-proba, axis=1)
        return [[(self.classes[j], float(p[j])) for j in row] for p, row in zip(proba, order)]


def _centred(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Vectors less the training mean, scaled back to unit length."""
    out = vectors - mean
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def fit(vectors: np.ndarray, labels: list[str], key: tuple[str, str, int] = ("", "", 0), seed: int = 0
        ) -> ClusterModel:
    """Train the classifier on labelled vectors (a seeded sample of MAX_TRAIN when there are more)."""
    started = time.perf_counter()
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(labels) > MAX_TRAIN:
        keep = np.sort(np.random.default_rng(seed).choice(len(labels), MAX_TRAIN, replace=False))
        vectors, labels = vectors[keep], [labels[i] for i in keep]
    counts = dict(Counter(labels).most_common())
    classes = sorted(counts)
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    mean = vectors.mean(axis=0) if len(vectors) else np.zeros(dim, dtype=np.float32)
    model = None
    if len(classes) >= 2:
        model = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
        model.fit(_centred(vectors, mean), labels)
        classes = [str(c) for c in model.classes_]
    return ClusterModel(key, classes, mean, model, len(labels), time.perf_counter() - started, counts)




REFIT_SHARE = 0.02  # train again once the change log has moved by this share of the listings trained on …
REFIT_SECONDS = 300.0  # … or when any change is this much older than the model


def _stale(current: ClusterModel | None, key: tuple[str, str, int]) -> bool:
    """Whether the model must be trained again for the catalogue state `key`: another catalogue or encoder, or
    enough writes since (a busy catalogue does not retrain on every write: one post barely moves 20k listings)."""
    if current is None or current.key[:2] != key[:2]:
        return True
    moved = key[2] - current.key[2]
    if moved <= 0:
        return False
    return moved >= max(1.0, REFIT_SHARE * current.trained_on) or time.monotonic() - current.at >= REFIT_SECONDS


def cross_validate(vectors: np.ndarray, labels: list[str], folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Stratified k-fold accuracy (top-1, top-3) of the classifier, with the majority-class rate as reference.

    Clusters with fewer listings than folds cannot be stratified and are left out (named in `dropped`)."""
    counts = Counter(labels)
    kept = [i for i, label in enumerate(labels) if counts[label] >= folds]
    dropped = sorted(c for c, n in counts.items() if n < folds)
    x = np.asarray(vectors, dtype=np.float32)[kept]
    y = np.asarray([labels[i] for i in kept])
    out: dict[str, Any] = {"listings": len(y), "clusters": len(set(y.tolist())), "folds": folds, "dropped": dropped}
    if len(set(y.tolist())) < 2:
        return {**out, "top1": None, "top3": None, "majority": None}
    top1 = top3 = majority = 0
    fit_seconds = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        model = fit(x[train], y[train].tolist(), seed=seed)
        fit_seconds.append(model.seconds)
        ranked = model.predict(x[test])
        for truth, guesses in zip(y[test], ranked):
            names = [c for c, _ in guesses]
            top1 += names[0] == truth
            top3 += truth in names[:3]
        most = Counter(y[train].tolist()).most_common(1)[0][0]
        majority += int(np.sum(y[test] == most))
    n = len(y)
    return {**out, "top1": round(top1 / n, 4), "top3": round(top3 / n, 4), "majority": round(majority / n, 4),
            "fit_seconds": round(float(np.mean(fit_seconds)), 3)}


class Clusters:
    """The industry-cluster classifier over the catalogue's public needs, trained when first asked."""

    def __init__(self, store: Store, indexes: Indexes) -> None:
        self.store = store
        self.indexes = indexes
        self._model: ClusterModel | None = None
        self._lock = threading.Lock()

    def labelled(self, limit: int | None = MAX_TRAIN, seed: int = 0) -> tuple[np.ndarray, list[str]]:
        """(stored passage vectors, cluster codes) of the listings of both sides filed under a cluster other than 其他
        (a seeded sample of `limit` of them when there are more: only those vectors are read)."""
        cat = self.indexes.live  # brought up to date with the store
        keys = [(side, int(r["id"]), str(r["industry"])) for side in ("needs", "results")
                for r in self.store.labelled(side, OTHER)]
        if limit is not None and len(keys) > limit:
            keys = [keys[i] for i in np.sort(np.random.default_rng(seed).choice(len(keys), limit, replace=False))]
        blocks, labels = [], []
        for side in ("needs", "results"):
            mine = [(i, label) for s, i, label in keys if s == side]
            if not mine:
                continue
            vectors = cat.sides[side].dense.vectors([i for i, _ in mine])
            present = np.flatnonzero(np.any(vectors != 0, axis=1))  # a row not indexed yet stays out
            blocks.append(vectors[present])
            labels.extend(mine[i][1] for i in present)
        dim = self.indexes.encoder.dim
        return (np.vstack(blocks) if blocks else np.zeros((0, dim), dtype=np.float32)), labels

    def model_for(self) -> ClusterModel:
        """The catalogue's classifier, trained again when the catalogue changed enough since (keyed on the catalogue,
        the
        encoder and the applied change-log sequence)."""
        _ = self.indexes.live  # applies the log's tail first, so the key reflects every committed write
        key = (self.store.catalogue_id, self.indexes.encoder.name, self.indexes.applied_seq)
        current = self._model
        if not _stale(current, key):
            return current
        with self._lock:  # one training at a time; a second caller finds the fresh model
            current = self._model
            if _stale(current, key):
                vectors, labels = self.labelled()
                current = fit(vectors, labels, key)
                self._model = current
            return current

    def suggest(self, vector: np.ndarray | None, top: int = 3) -> list[tuple[str, float]]:
        """The `top` most likely clusters of one passage vector, with probabilities (empty: no labelled listings)."""
        model = self.model_for()
        if vector is None or not model.classes:
            return []
        return model.predict(vector)[0][:top]

    def catalogue_cv(self, folds: int = 5, seed: int = 0) -> dict[str, Any]:
        """`cross_validate` on the catalogue's own labelled listings (the figures of the model `suggest` uses)."""
        vectors, labels = self.labelled()
        return cross_validate(vectors, labels, folds, seed)
