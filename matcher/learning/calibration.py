"""Match confidence: the hybrid's score turned into a probability a broker would call the pair relevant.

The fused score ranks well but reads badly: min-max fusion puts the best candidate near 1.0 even when nothing in
the catalogue fits. The confidence is a logistic model over three absolute figures of a pair — its dense score
less its hubness, how far that is below the best candidate's, and its share of the best BM25 score — fitted on
graded judgements (relevant = grade ≥ 2) with `techmatch calibrate`, checked by cross-validation grouped by
query. A confidence of 0.3 means that about 3 in 10 such pairs were judged relevant.

The default model for the bundled encoder was fitted with that command on the internal bdci-dev split; a model
fitted on another benchmark (or for another encoder) is saved beside the index and takes precedence.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from matcher.errors import Invalid
from matcher.retrieval.hubness import HUB_WEIGHT, corrected
from matcher.retrieval.ranking import Scored

FEATURES = ("dense_corrected", "dense_gap", "lexical_share")
FILE = "calibration.json"


@dataclass
class Calibration:
    """A logistic model over FEATURES for one encoder, with the figures it reached when fitted."""

    encoder: str
    weights: list[float]
    bias: float
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    meta: dict[str, Any] = field(default_factory=dict)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Probability of relevance for each row of features."""
        z = np.asarray(rows, dtype=np.float64).reshape(-1, len(self.weights)) @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, folder: Path) -> Path:
        """Write `calibration.json` in `folder` (beside the index), where `load` finds it first."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / FILE
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), "utf-8")
        return path


# Fitted by `techmatch calibrate --benchmark ../shared/eval/bdci-dev` (5,912 judged pairs of 117 needs); the
# numbers are the model, not the data. Grouped 5-fold CV: see meta.
DEFAULTS: dict[str, Calibration] = {
    "e5-small-q4": Calibration(
        "e5-small-q4", [2.68273164, 2.70998504, 2.99211571], -3.86615159,
        meta={"fitted_on": "bdci-dev", "pairs": 5912, "positives": 649, "queries": 117,
              "cv": {"auc": 0.726, "brier": 0.0887, "ece": 0.010}},
    ),
}


def load(folder: Path, encoder: str) -> Calibration | None:
    """The calibration for an encoder: one fitted into the data folder, else the bundled default, else None."""
    path = folder / FILE
    if path.exists():
        data = json.loads(path.read_text("utf-8"))
        if data.get("encoder") == encoder and data.get("features") == list(FEATURES):
            return Calibration(**data)
    return DEFAULTS.get(encoder)


def _corrected(s: Scored, hub_weight: float) -> float:
    return corrected(s.components.get("dense", 0.0), s.components.get("hubness", 0.0), hub_weight)


def bests(scored: Sequence[Scored], hub_weight: float = HUB_WEIGHT) -> tuple[float, float]:
    """(best hubness-corrected dense score, best BM25 score) of a ranked list: the query's best candidates."""
    if not scored:
        return 0.0, 0.0
    return (max(_corrected(s, hub_weight) for s in scored),
            max(max(s.components.get("lexical", 0.0), 0.0) for s in scored))


def features(scored: Sequence[Scored], best: tuple[float, float] | None = None,
             hub_weight: float = HUB_WEIGHT) -> np.ndarray:
    """FEATURES of each item, measured against `best` (by default the best of the list itself)."""
    if not scored:
        return np.zeros((0, len(FEATURES)))
    best_dense, best_lexical = best or bests(scored, hub_weight)
    dense = np.asarray([_corrected(s, hub_weight) for s in scored])
    lexical = np.asarray([max(s.components.get("lexical", 0.0), 0.0) for s in scored])
    return np.column_stack([dense, dense - best_dense, lexical / max(best_lexical, 1e-6)])


def attach(scored: Sequence[Scored], model: Calibration) -> None:
    """Put each item's confidence into its components (in place), against the best of the list."""
    if scored:
        for s, p in zip(scored, model.predict(features(scored))):
            s.components["confidence"] = round(float(p), 4)


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Mean |predicted − observed| over equal-width probability bins, weighted by bin size."""
    edges = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    return float(sum((edges == b).mean() * abs(p[edges == b].mean() - y[edges == b].mean())
                     for b in range(bins) if (edges == b).any()))


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, encoder: str, source: str = "",
        folds: int = 5) -> Calibration:
    """Fit on every pair; meta holds grouped k-fold figures (AUC, Brier, ECE) and a reliability table."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import GroupKFold

    x, y, groups = np.asarray(x, float), np.asarray(y, int), np.asarray(groups)
    if len(np.unique(y)) < 2:
        raise Invalid("calibration needs both relevant and non-relevant judged pairs")
    k = min(folds, len(np.unique(groups)))
    if k < 2:
        raise Invalid("calibration needs judged pairs of at least two queries")
    cv = np.zeros(len(y))
    for train, test in GroupKFold(k).split(x, y, groups):
        if len(np.unique(y[train])) < 2:
            cv[test] = y[train].mean()
            continue
        cv[test] = LogisticRegression(max_iter=2000).fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    model = LogisticRegression(max_iter=2000).fit(x, y)
    edges = np.minimum((cv * 10).astype(int), 9)
    table = [{"bin": f"{b / 10:.1f}–{(b + 1) / 10:.1f}", "pairs": int((edges == b).sum()),
              "predicted": round(float(cv[edges == b].mean()), 3), "observed": round(float(y[edges == b].mean()), 3)}
             for b in range(10) if (edges == b).any()]
    return Calibration(encoder, model.coef_[0].tolist(), float(model.intercept_[0]), meta={
        "fitted_on": source, "fitted_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "pairs": len(y), "positives": int(y.sum()), "queries": len(np.unique(groups)), "folds": k,
        "cv": {"auc": round(float(roc_auc_score(y, cv)), 4), "brier": round(float(brier_score_loss(y, cv)), 4),
               "ece": round(expected_calibration_error(cv, y), 4)},
        "reliability": table,
    })
