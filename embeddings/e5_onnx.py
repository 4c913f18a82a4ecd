"""The float e5 model (stock or tuned) served by ONNX Runtime: exported once from its PyTorch folder, then run without
torch — smaller to deploy and faster on the CPU. Tokens and pooling are the float encoder's own, so its vectors are
the same model's (cosine ≥ 0.9999 to PyTorch's) and it keeps the folder's versioned name (caches stay valid)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .base import Encoder, EncoderUnavailable
from .e5_float import E5Inputs, E5Tokens, read_manifest, read_tokenizer

ONNX_FILE = "model.onnx"
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
    path = folder / "manifest.json"
    tmp_manifest = path.with_suffix(".json.tmp")
    tmp_manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    os.replace(tmp_manifest, path)
    return target


def available(folder: Path | str) -> bool:
    """Whether this folder can be served by ONNX Runtime: the runtime is installed and the exported file is the
    one the manifest records (an export interrupted or of older weights is not used)."""
    folder = Path(folder)
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    recorded = read_manifest(folder).get("onnx") if (folder / "manifest.json").exists() else None
    return bool(recorded) and (folder / ONNX_FILE).exists() and _sha256(folder / ONNX_FILE) == recorded["sha256"]


class OnnxE5Encoder(E5Inputs, Encoder):
    """e5-small in float32 from a model folder's `model.onnx`, run by ONNX Runtime on the CPU."""

    dim = 384

    def __init__(self, folder: Path | str, batch_size: int = 32, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - the extra is not installed
            raise EncoderUnavailable("serving the float e5 model by ONNX needs onnxruntime: pip install -e '.[st]'") \
                from exc
        self.folder = Path(folder)
        if not available(self.folder):
            raise EncoderUnavailable(f"{self.folder}: no current {ONNX_FILE} (run `techmatch model export`)")
        manifest = read_manifest(self.folder)
        self.name = manifest["name"]  # the weights' version: vectors agree with PyTorch's, caches stay valid
        self.manifest = manifest
        self.batch_size = batch_size
        self.tokens = E5Tokens(read_tokenizer(self.folder / "tokenizer.json"))
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])

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
