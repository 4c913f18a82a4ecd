"""The encoder interface: queries and documents in, L2-normalised float32 rows out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np


class EncoderUnavailable(RuntimeError):
    """An encoder that cannot load here; the message names the fix."""


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def clean(text: str) -> str:
    """Text an encoder can take: no NUL characters, never empty."""
    text = str(text).replace("\x00", "").strip()
    return text or " "


class Encoder(ABC):
    """A dense text encoder; needs are queries, results are documents (asymmetric retrieval)."""

    name: str
    dim: int
    batch_size: int = 32
    batch_chars: int = 4096  # a batch pads every text to its longest: long texts go in smaller batches

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of search queries, shape (n, dim)."""
        return self._batched(texts, self._encode_queries)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of documents to be searched, shape (n, dim)."""
        return self._batched(texts, self._encode_documents)

    def _batched(self, texts: Sequence[str], fn) -> np.ndarray:
        texts = [clean(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # sort by length so each batch pads little, cap each batch's padded size (its count times its longest
        # text, in characters), then put rows back in order
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        idx: list[int] = []
        for i in order:
            if idx and (len(idx) == self.batch_size or (len(idx) + 1) * len(texts[i]) > self.batch_chars):
                out[idx] = fn([texts[j] for j in idx])
                idx = []
            idx.append(i)
        out[idx] = fn([texts[j] for j in idx])
        return normalize(out)

    @abstractmethod
    def _encode_queries(self, texts: list[str]) -> np.ndarray: ...

    @abstractmethod
    def _encode_documents(self, texts: list[str]) -> np.ndarray: ...
