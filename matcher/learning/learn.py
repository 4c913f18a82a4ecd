"""Learning from brokers: confirmed and rejected candidates train a reranker over score components and field fits.

The model is a logistic regression on standardised features, so its output is a probability a broker would
confirm the pair — a 0–1 confidence that means something. It is saved as JSON beside the index, versioned, with
the cross-validated figures it reached (grouped by need, never its training score).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from matcher.errors import Invalid

FEATURES = ("dense", "lexical_log", "fused", "boost", "industry_match", "district_match", "maturity_gap",
            "modes_fit", "rank_log")


def feature_row(components: dict[str, float], fits: dict[str, Any] | None, rank: int) -> list[float]:
    """The features of one candidate, from its score components and (optional) field fits."""
    fits = fits or {}
    return [
        float(components.get("dense", 0.0)),
        float(np.log1p(max(components.get("lexical", 0.0), 0.0))),
        float(components.get("fused", 0.0)),
        float(components.get("boost", 0.0)),
        float(bool(fits.get("industry_match"))),
        float(bool(fits.get("district_match"))),
        float(min(fits.get("maturity_gap", 0) or 0, 5)),
        float(bool(fits.get("modes_fit"))),
        float(np.log1p(max(rank, 1))),
    ]


@dataclass
class Reranker:
    """A fitted logistic model: weights over standardised FEATURES."""

    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    meta: dict[str, Any] = field(default_factory=dict)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Probability of confirmation for each row of features."""
        z = (np.asarray(rows, dtype=np.float64) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.weights) + self.bias)))

    def save(self, folder: Path) -> Path:
        """Write `reranker-v<N>.json` (next version) and point `reranker.json` at it; returns the new file."""
        folder.mkdir(parents=True, exist_ok=True)
        version = 1 + max((int(p.stem.split("-v")[1]) for p in folder.glob("reranker-v*.json")), default=0)
        self.meta["version"] = version
        path = folder / f"reranker-v{version}.json"
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), "utf-8")
        (folder / "reranker.json").write_text(json.dumps({"current": path.name}), "utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> Reranker | None:
        """The current model of a folder, or None."""
        pointer = folder / "reranker.json"
        if not pointer.exists():
            return None
        data = json.loads((folder / json.loads(pointer.read_text("utf-8"))["current"]).read_text("utf-8"))
        if data.get("features") != list(FEATURES):
            return None  # trained on another feature set: retrain
        return cls(**data)


def _fit_once(x: np.ndarray, y: np.ndarray, c: float) -> Reranker:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit((x - mean) / scale, y)
    return Reranker(model.coef_[0].tolist(), float(model.intercept_[0]), mean.tolist(), scale.tolist())


def _per_group_metrics(scores: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """P@1 and MRR of a scoring over the candidate lists of each group (need) with a confirmed pair."""
    p1, mrr, n = 0.0, 0.0, 0
    for g in np.unique(groups):
        idx = np.where(groups == g)[0]
        if not y[idx].any():
            continue
        order = idx[np.argsort(-scores[idx], kind="stable")]
        n += 1
        p1 += float(y[order[0]])
        mrr += 1.0 / (1 + int(np.argmax(y[order])))
    return {"p1": round(p1 / n, 4) if n else 0.0, "mrr": round(mrr / n, 4) if n else 0.0, "needs": n}


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float = 1.0, folds: int = 5) -> Reranker:
    """Fit on all decisions; meta records k-fold figures grouped by need against the untrained fused score."""
    from sklearn.model_selection import GroupKFold

    x, y, groups = np.asarray(x, float), np.asarray(y, int), np.asarray(groups)
    if len(np.unique(y)) < 2:
        raise Invalid("training needs both confirmed and rejected pairs")
    k = min(folds, len(np.unique(groups)))
    cv_scores = np.zeros(len(y))
    if k >= 2:
        for train, test in GroupKFold(k).split(x, y, groups):
            if len(np.unique(y[train])) < 2:
                cv_scores[test] = x[test, FEATURES.index("fused")]
                continue
            cv_scores[test] = _fit_once(x[train], y[train], c).predict(x[test])
    model = _fit_once(x, y, c)
    model.meta = {
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "decisions": len(y), "confirmed": int(y.sum()), "needs": len(np.unique(groups)), "folds": k,
        "cv": _per_group_metrics(cv_scores, y, groups) if k >= 2 else {},
        "untrained": _per_group_metrics(x[:, FEATURES.index("fused")], y, groups),
    }
    return model


def rerank(scored: list, model: Reranker, fits: list[dict[str, Any] | None] | None = None) -> list:
    """Re-order ranked items (`ranking.Scored`) by the model's confirmation probability, which becomes the score."""
    if not scored:
        return scored
    fits = fits or [None] * len(scored)
    rows = np.asarray([feature_row({**s.components, "fused": s.score}, f, i + 1)
                       for i, (s, f) in enumerate(zip(scored, fits))])
    probs = model.predict(rows)
    for s, p in zip(scored, probs):
        s.components = {**s.components, "fused": s.score, "confidence": float(p)}
        s.score = float(p)
    return sorted(scored, key=lambda s: -s.score)
