"""The model files beside the index — the confidence calibration, the reranker trained on brokers' decisions, the
query adapter and the cross-encoder fitted by `techmatch tune` — read on first use and read again whenever the
change log says another process wrote a new one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matcher.learning import calibration, learn
from matcher.learning.adapter import Adapter


class Models:
    """Cached model files of one index folder."""

    def __init__(self, folder: Path, encoder_name: Callable[[], str], float_model: Callable[[], Any] | None = None
                 ) -> None:
        self.folder = folder
        self._encoder_name = encoder_name
        self._float_model = float_model  # the stock float e5 (PyTorch) a cross-encoder runs on
        self._calibration: calibration.Calibration | bool | None = None
        self._reranker: learn.Reranker | bool | None = None
        self._adapter: Adapter | bool | None = None
        self._cross: Any = None
        self.cross_encoder_error: str | None = None  # why an installed cross-encoder cannot run here
        self._lock = threading.Lock()

    @property
    def calibration(self) -> calibration.Calibration | None:
        """The model turning the hybrid's scores into a 0–1 confidence, for the current encoder (None: no model)."""
        if self._calibration is None:
            with self._lock:
                if self._calibration is None:
                    self._calibration = calibration.load(self.folder, self._encoder_name()) or False
        return self._calibration or None

    @property
    def reranker(self) -> learn.Reranker | None:
        """The current model trained on brokers' decisions (None: none trained yet)."""
        if self._reranker is None:
            with self._lock:
                if self._reranker is None:
                    self._reranker = learn.Reranker.load(self.folder) or False
        return self._reranker or None

    @property
    def adapter(self) -> Adapter | None:
        """The query adapter fitted for the current encoder (None: none)."""
        if self._adapter is None:
            with self._lock:
                if self._adapter is None:
                    self._adapter = Adapter.load(self.folder, self._encoder_name()) or False
        return self._adapter or None

    @property
    def cross_encoder_installed(self) -> bool:
        """Whether `techmatch tune --mode cross-encoder` installed a reranker here (cheap: no model is loaded)."""
        from matcher.learning.cross_encoder import FILE

        return (self.folder / FILE).exists()

    @property
    def cross_encoder(self) -> Any:
        """The installed cross-encoder on its base model (None: none installed, or trained on another base)."""
        if self._cross is None:
            with self._lock:
                if self._cross is None:
                    from matcher.learning.cross_encoder import CrossEncoder, Unusable

                    found, self.cross_encoder_error = None, None
                    if self._float_model is not None and self.cross_encoder_installed:
                        try:
                            found = CrossEncoder.load(self.folder, self._float_model)
                        except Unusable as exc:
                            self.cross_encoder_error = str(exc)
                    self._cross = found or False
        return self._cross or None

    def forget(self) -> None:
        """Read the files again on next use (another process wrote a new model)."""
        with self._lock:
            self._calibration = None
            self._reranker = None
            self._adapter = None
            self._cross = None
