"""Learning as a service: the models beside the index — the reranker trained on brokers' decisions, the confidence
calibration, and what `tune` fits on judged pairs (query adapter, fine-tuned encoder, cross-encoder) — fitted,
installed, and announced in the change log so every process reads them again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from matcher.catalogue import MODELS_SIDE
from matcher.catalogue.indexes import Indexes
from matcher.errors import Invalid
from matcher.ingest.vocab import Vocab
from matcher.learning import calibration, learn
from matcher.learning.fits import field_fits
from matcher.learning.models import Models
from matcher.progress import Progress
from matcher.settings import Settings
from matcher.store import Store


class Learning:
    """Fit, install and switch the models matching uses."""

    def __init__(self, settings: Settings, store: Store, vocab: Vocab, indexes: Indexes, models: Models) -> None:
        self.settings = settings
        self.store = store
        self.vocab = vocab
        self.indexes = indexes
        self.models = models

    @property
    def calibration(self) -> calibration.Calibration | None:
        """The confidence model for the current encoder (None: none fitted)."""
        return self.models.calibration

    def install_model(self, model: Any) -> Path:
        """Install a fitted model file (calibration, query adapter, cross-encoder) beside the index; every process
        reads it again."""
        path = model.save(self.settings.index_dir)
        self.store.log_change(MODELS_SIDE, 0, "reload")
        self.models.forget()
        return path


    def use_tuned_model(self, progress: Progress | None = None) -> dict[str, int]:
        """Switch this process to the model just installed in the data folder and re-encode the catalogue with it;
        returns the listings indexed."""
        return self.indexes.switch_encoder(progress)

    def training_data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(features, confirmed?, need id) of every decided candidate."""
        rows = self.store.decided_candidates()
        needs = self.store.get_many("needs", sorted({r["need_id"] for r in rows}))
        results = self.store.get_many("results", sorted({r["result_id"] for r in rows}))
        x, y, groups = [], [], []
        for r in rows:
            need, result = needs.get(r["need_id"]), results.get(r["result_id"])
            if need is None or result is None:
                continue
            fits = field_fits(need, result, self.vocab)
            x.append(learn.feature_row(r["components"], fits, r["rank"] or 1))
            y.append(int(r["status"] == "confirmed"))
            groups.append(r["need_id"])
        return np.asarray(x, dtype=float).reshape(-1, len(learn.FEATURES)), np.asarray(y), np.asarray(groups)

    def train(self, min_decisions: int = 20, actor: str = "system") -> dict[str, Any]:
        """Fit the reranker on brokers' decisions and store it beside the index (a new version); every process using
        the catalogue reads it again (a change-log row says so)."""
        x, y, groups = self.training_data()
        if len(y) < min_decisions:
            raise Invalid(f"only {len(y)} decisions so far; at least {min_decisions} are needed to train")
        model = learn.fit(x, y, groups)
        path = model.save(self.settings.index_dir)
        with self.store.transaction():
            self.store.audit(actor, "train", "reranker", model.meta["version"], model.meta)
            self.store.log_change(MODELS_SIDE, int(model.meta["version"]), "reload")
        self.models.forget()
        return {**model.meta, "path": path.name}

    def tune(self, benchmark: Any = None, folds: int = 5, force: bool = False, mode: str = "adapter",
             log: Callable[[str], None] | None = None, progress: Progress | None = None, decisions: bool = False
             ) -> dict[str, Any]:
        """Tune on judged pairs — a benchmark's and/or the brokers' decisions (`decisions`) — the query adapter, a
        fine-tune of the float model (top layers, LoRA or full) or a cross-encoder reranker, measured first by
        grouped cross-validation (see learning/tuning.py); installed only when it lifts the figures there, or with
        `force`."""
        from matcher.learning import finetune, judgements, tuning

        if mode not in ("adapter", "cross-encoder", *finetune.MODES):
            raise Invalid(f"unknown tuning mode {mode!r}; choose adapter, cross-encoder, {', '.join(finetune.MODES)}")
        sources = ([benchmark] if benchmark is not None else []) + (
            [judgements.decisions_benchmark(self.store)] if decisions else [])
        if not sources:
            raise Invalid("nothing to tune on: give a benchmark folder, the brokers' decisions, or both")
        bench = judgements.combine(*sources)
        if mode == "adapter":
            return tuning.tune(self.settings, self.install_model, bench, folds=folds, force=force, log=log)
        if mode == "cross-encoder":
            return tuning.tune_cross_encoder(self.settings, self.install_model, self.models.adapter, bench,
                                             folds=folds, force=force, log=log)
        return tuning.tune_model(self.settings, self.use_tuned_model, bench, folds=folds, mode=mode, force=force,
                                 log=log, progress=progress)
