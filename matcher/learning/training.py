"""Training the reranker on brokers' decisions: every confirmed or rejected candidate is one labelled pair."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from matcher.catalogue import MODELS_SIDE
from matcher.errors import Invalid
from matcher.learning import learn
from matcher.matching import explain

if TYPE_CHECKING:
    from matcher.service import MatchService


def training_data(service: MatchService) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, confirmed?, need id) of every decided candidate."""
    store = service.store
    rows = store.decided_candidates()
    needs = store.get_many("needs", sorted({r["need_id"] for r in rows}))
    results = store.get_many("results", sorted({r["result_id"] for r in rows}))
    x, y, groups = [], [], []
    for r in rows:
        need, result = needs.get(r["need_id"]), results.get(r["result_id"])
        if need is None or result is None:
            continue
        fits = explain.field_fits(need, result, service.vocab)
        x.append(learn.feature_row(r["components"], fits, r["rank"] or 1))
        y.append(int(r["status"] == "confirmed"))
        groups.append(r["need_id"])
    return np.asarray(x, dtype=float).reshape(-1, len(learn.FEATURES)), np.asarray(y), np.asarray(groups)


def train(service: MatchService, min_decisions: int = 20, actor: str = "system") -> dict[str, Any]:
    """Fit the reranker on brokers' decisions and store it beside the index (a new version); every process using
    the catalogue reads it again (a change-log row says so)."""
    x, y, groups = training_data(service)
    if len(y) < min_decisions:
        raise Invalid(f"only {len(y)} decisions so far; at least {min_decisions} are needed to train")
    model = learn.fit(x, y, groups)
    path = model.save(service.settings.index_dir)
    with service.store.transaction():
        service.store.audit(actor, "train", "reranker", model.meta["version"], model.meta)
        service.store.log_change(MODELS_SIDE, int(model.meta["version"]), "reload")
    service.models.forget()
    return {**model.meta, "path": path.name}
