"""Fine-tuning the float e5 model's top layers on judged pairs (`techmatch tune --mode top-layers`).

Pairs are (a need's title as a query, a relevant listing's text as a passage); the loss is the softmax of each
need against the other passages of its batch (in-batch negatives, other positives of the same need masked) at
temperature TAU — the contrastive objective e5 was trained with. Only the top `layers` transformer layers learn
(the rest stay frozen, so a step on 2 cores takes well under a second and ~100 judged needs cannot wreck the
model's general knowledge); titles are cut to 64 tokens and passages to 128 during training. The tuned model is a
float model folder like `techmatch model convert` writes, named by the hash of its weights. Needs torch (the `st`
extra). Measured by grouped cross-validation before anything is installed (see tuning.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from matcher.learning.evaluation import Benchmark
from matcher.retrieval.documents import document_text, query_views

TAU = 0.05
LAYERS = 2  # top transformer layers that learn
EPOCHS = 1
LR = 3e-5
BATCH = 16


def benchmark_pairs(bench: Benchmark, indices: Sequence[int]) -> list[tuple[str, str, int]]:
    """(need title, relevant listing text, need position) for these needs' relevant judgements."""
    index_of = {d["id"]: i for i, d in enumerate(bench.corpus)}
    out = []
    for i in indices:
        q = bench.queries[i]
        title = query_views("needs", q)[0][0]
        for doc, grade in sorted(bench.qrels.get(q["id"], {}).items()):
            if doc in index_of and doc not in q["exclude"] and grade >= bench.relevant:
                out.append((title, document_text("results", bench.corpus[index_of[doc]]), i))
    return out


def train(encoder: Any, pairs: Sequence[tuple[str, str, int]], layers: int = LAYERS, epochs: int = EPOCHS,
          lr: float = LR, batch: int = BATCH, seed: int = 0) -> dict[str, float]:
    """Fine-tune `encoder` (a FloatE5Encoder, changed in place) on pairs; returns the CPU seconds and last loss."""
    import torch

    if not pairs:
        raise ValueError("no judged pair to fine-tune on")
    torch.manual_seed(seed)
    model = encoder.model
    for p in model.parameters():
        p.requires_grad = False
    params = [p for layer in model.encoder.layer[-layers:] for p in layer.parameters()] if layers else []
    for p in params:
        p.requires_grad = True
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    started, loss = time.process_time(), float("nan")
    model.train()
    try:
        for _ in range(epochs):
            order = rng.permutation(len(pairs))
            for start in range(0, len(order), batch):
                part = [pairs[j] for j in order[start:start + batch]]
                if len(part) < 2:
                    continue
                q = torch.nn.functional.normalize(encoder.forward(encoder.ids([p[0] for p in part], True, 64)), dim=-1)
                d = torch.nn.functional.normalize(encoder.forward(encoder.ids([p[1] for p in part], False, 128)),
                                                  dim=-1)
                logits = q @ d.T / TAU
                need = torch.tensor([p[2] for p in part])
                same = (need[:, None] == need[None, :]) & ~torch.eye(len(part), dtype=torch.bool)
                step = torch.nn.functional.cross_entropy(logits.masked_fill(same, -1e4), torch.arange(len(part)))
                opt.zero_grad()
                step.backward()
                opt.step()
                loss = float(step.detach())
    finally:
        model.eval()
        for p in model.parameters():
            p.requires_grad = False
    return {"cpu_s": round(time.process_time() - started, 1), "loss": round(loss, 4), "pairs": len(pairs)}


def save(encoder: Any, folder: Path, trained_on: dict[str, Any]) -> dict:
    """Write the tuned model as a float model folder (name from its weights' hash); returns its manifest."""
    import json

    from embeddings.e5_float import model_name, read_tokenizer, tokenizer_tables, weights_digest, write_folder

    tensors = {k: v.detach().cpu().numpy() for k, v in encoder.model.state_dict().items()
               if not k.endswith("position_ids")}
    digest = weights_digest(tensors)
    base = encoder.manifest
    manifest = {"name": model_name(digest), "base": base.get("name"), "source": base.get("source"),
                "source_sha256": base.get("source_sha256"), "weights_sha256": digest, "trained_on": trained_on}
    config = json.loads((encoder.folder / "config.json").read_text("utf-8"))
    tables = tokenizer_tables(read_tokenizer(encoder.folder / "tokenizer.json"))
    write_folder(folder, config, tensors, tables, manifest)
    return manifest


def reset_top(encoder: Any, saved: dict[str, Any]) -> None:
    """Put back the weights `snapshot_top` took (the next fold starts from the stock model)."""
    encoder.model.load_state_dict(saved, strict=False)


def snapshot_top(encoder: Any, layers: int = LAYERS) -> dict[str, Any]:
    """A copy of the weights fine-tuning changes."""
    n = len(encoder.model.encoder.layer)
    keep = tuple(f"encoder.layer.{i}." for i in range(n - layers, n))
    return {k: v.detach().clone() for k, v in encoder.model.state_dict().items() if k.startswith(keep)}

