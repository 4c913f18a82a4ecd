"""The float e5 model (stock or tuned) served by ONNX Runtime: exported once from its PyTorch folder, then run without
torch — smaller to deploy and faster on the CPU. Tokens and pooling are the float encoder's own, so its vectors are
the same model's (cosine ≥ 0.9999 to PyTorch's) and it keeps the folder's versioned name (caches stay valid).

`quantize` adds the export with 8-bit weights (ONNX Runtime's dynamic quantisation: 4× smaller, ~2.5× faster); its
vectors differ a little (cosine ≥ 0.98), so it runs under the name plus "-int8" and never shares a cache or index
with the float vectors."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .base import Encoder, EncoderUnavailable
from .e5_float import E5Inputs, E5Tokens, read_manifest, read_tokenizer

ONNX_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
OPSET = 17


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export(folder: Path | str) -> Path:
    """Write `model.onnx` beside a float model folder's weights (atomically; recorded with its hash in the manifest)
    and return its path. Needs torch (the folder's model is loaded to trace it); running it does not."""
    from .e5_float import FloatE5Encoder

    folder = Path(folder)
    model = FloatE5Encoder(folder)
    torch = model._torch

    class Hidden(torch.nn.Module):
        """input ids and mask → last hidden state (pooling stays outside, in numpy, as the float encoder does it)."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = model.ids(["示例文本 a sample", "齿轮齿面激光淬火强化工艺，硬化层0.8～1.2毫米"], is_query=False)
    width = max(map(len, ids))
    batch = torch.tensor([seq + [model.tokens.pad] * (width - len(seq)) for seq in ids], dtype=torch.long)
    mask = torch.tensor([[1] * len(seq) + [0] * (width - len(seq)) for seq in ids], dtype=torch.long)
    target = folder / ONNX_FILE
    tmp = folder / f".{ONNX_FILE}.{os.getpid()}.tmp"
    with torch.inference_mode():
        torch.onnx.export(Hidden(model.model).eval(), (batch, mask), str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "last_hidden_state": {0: "batch", 1: "tokens"}})
    os.replace(tmp, target)
    manifest = read_manifest(folder)
    manifest["onnx"] = {"file": ONNX_FILE, "sha256": _sha256(target), "opset": OPSET}
    _write_manifest(folder, manifest)
    return target


def _write_manifest(folder: Path, manifest: dict) -> None:
    path = folder / "manifest.json"
    tmp_manifest = path.with_suffix(f".json.{os.getpid()}.tmp")
    tmp_manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    os.replace(tmp_manifest, path)


def quantize(folder: Path | str) -> Path:
    """Write `model-int8.onnx`: the folder's current ONNX export (made first when missing) with 8-bit weights,
    recorded in the manifest with its hash and the export it came from; returns its path."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = Path(folder)
    if not available(folder):
        export(folder)
    target = folder / INT8_FILE
    tmp = folder / f".{INT8_FILE}.{os.getpid()}.tmp"
    quantize_dynamic(str(folder / ONNX_FILE), str(tmp), weight_type=QuantType.QInt8)
    os.replace(tmp, target)
    manifest = read_manifest(folder)
    manifest["onnx_int8"] = {"file": INT8_FILE, "sha256": _sha256(target), "from": manifest["onnx"]["sha256"]}
    _write_manifest(folder, manifest)
    return target


def available(folder: Path | str, int8: bool = False) -> bool:
    """Whether this folder can be served by ONNX Runtime: the runtime is installed and the exported file is the
    one the manifest records (an export interrupted or of older weights is not used; an 8-bit one must come from
    the current float export)."""
    folder = Path(folder)
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    manifest = read_manifest(folder) if (folder / "manifest.json").exists() else {}
    recorded = manifest.get("onnx")
    current = bool(recorded) and (folder / ONNX_FILE).exists() and _sha256(folder / ONNX_FILE) == recorded["sha256"]
    if not int8:
        return current
    small = manifest.get("onnx_int8")
    return (current and bool(small) and small.get("from") == recorded["sha256"] and (folder / INT8_FILE).exists()
            and _sha256(folder / INT8_FILE) == small["sha256"])


class OnnxE5Encoder(E5Inputs, Encoder):
    """e5-small from a model folder's `model.onnx` (float32) or `model-int8.onnx`, run by ONNX Runtime on the CPU."""

    dim = 384

    def __init__(self, folder: Path | str, batch_size: int = 32, threads: int | None = None, int8: bool = False
                 ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - the extra is not installed
            raise EncoderUnavailable("serving the float e5 model by ONNX needs onnxruntime: pip install -e '.[st]'") \
                from exc
        self.folder = Path(folder)
        if not available(self.folder, int8):
            raise EncoderUnavailable(f"{self.folder}: no current {INT8_FILE if int8 else ONNX_FILE} (run `techmatch "
                                     f"model export{' --int8' if int8 else ''}`)")
        manifest = read_manifest(self.folder)
        # the weights' version: float vectors agree with PyTorch's (caches stay valid); 8-bit ones get their own name
        self.name = manifest["name"] + ("-int8" if int8 else "")
        self.manifest = manifest
        self.batch_size = batch_size
        self.tokens = E5Tokens(read_tokenizer(self.folder / "tokenizer.json"))
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.folder / (INT8_FILE if int8 else ONNX_FILE)), options,
                                            providers=["CPUExecutionProvider"])

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        ids = self.ids(texts, is_query)
        width = max(map(len, ids))
        batch = np.full((len(ids), width), self.tokens.pad, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, seq in enumerate(ids):
            batch[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        hidden = self.session.run(["last_hidden_state"], {"input_ids": batch, "attention_mask": mask})[0]
        m = mask[..., None].astype(hidden.dtype)
        return (hidden * m).sum(axis=1) / m.sum(axis=1)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, True)

    def _encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, False)
