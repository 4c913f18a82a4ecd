"""sentence-transformers for any local model folder: the production path for larger models on a GPU machine."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .base import Encoder, EncoderUnavailable


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model loaded from a local folder only (never from a hub)."""

    def __init__(self, model_dir: Path | str | None, batch_size: int = 32, device: str | None = None) -> None:
        if model_dir is None:
            raise EncoderUnavailable("encoder 'st' needs a local model folder: set TECHMATCH_ST_MODEL=/path/to/model")
        path = Path(model_dir)
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise EncoderUnavailable(
                f"no sentence-transformers model in {path}: TECHMATCH_ST_MODEL must name a local folder "
                "holding modules.json/config.json (models are never downloaded)"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderUnavailable(
                "encoder 'st' needs the optional stack: pip install 'techmatch[st]' (torch==2.13.0 CPU)"
            ) from exc
        self.model = SentenceTransformer(str(path), device=device or "cpu", local_files_only=True)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.name = f"st:{path.name}"
        self.batch_size = batch_size

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        fn = getattr(self.model, "encode_query" if query else "encode_document", None) or self.model.encode
        return fn(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                  show_progress_bar=False)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, True)

    def _encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, False)
