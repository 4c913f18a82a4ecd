"""Dense text encoders behind one interface, picked by name."""

from __future__ import annotations

from pathlib import Path

from .base import Encoder, EncoderUnavailable, normalize
from .cache import CachedEncoder

ENCODERS = ("e5", "use", "st")


def get_encoder(name: str, st_model: Path | str | None = None, batch_size: int = 32) -> Encoder:
    """The encoder called `name`: e5 (default, bundled), use (portable fallback) or st (local folder)."""
    if name == "e5":
        from .e5 import E5Encoder

        return E5Encoder(batch_size=batch_size)
    if name == "use":
        from .use import USEEncoder

        return USEEncoder(batch_size=batch_size)
    if name == "st":
        from .st import SentenceTransformerEncoder

        return SentenceTransformerEncoder(st_model, batch_size=batch_size)
    raise EncoderUnavailable(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")


__all__ = ["ENCODERS", "CachedEncoder", "Encoder", "EncoderUnavailable", "get_encoder", "normalize"]
