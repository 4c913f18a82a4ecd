"""Fine-tuning the float e5 model on judged pairs (`techmatch tune --mode top-layers|lora|full`).

Pairs are (a need's title as a query, a relevant listing's text as a passage); the loss is the softmax of each
need against the other passages of its batch (in-batch negatives, other positives of the same need masked) at
temperature TAU — the contrastive objective e5 was trained with. What learns is the mode's choice: `top-layers`
(the default) trains only the top `layers` transformer layers — the rest stay frozen, so a step on 2 cores takes
well under a second and ~100 judged needs cannot wreck the model's general knowledge; `lora` adds rank-R low-rank
updates to every layer's attention matrices (merged into the weights afterwards, so the tuned model is served like
any other); `full` trains every transformer layer (the 96M-weight word-embedding table stays frozen in every mode).
Titles are cut to 64 tokens and passages to 128 during training. The tuned model is a
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
LAYERS = 2  # top transformer layers that learn (top-layers mode)
EPOCHS = 1
BATCH = 16
MODES = ("top-layers", "lora", "full")
LR = {"top-layers": 3e-5, "lora": 3e-4, "full": 1e-5}  # LoRA's updates start at zero and need a larger step
RANK, ALPHA = 8, 16  # LoRA rank and scale (update = B·A · ALPHA/RANK)
LORA_TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense")


def benchmark_pairs(bench: Benchmark, indices: Sequence[int], seed: int = 0, negatives: bool = True
                    ) -> list[tuple[str, str, int, str]]:
    """(need title, relevant listing text, need position, a judged non-relevant listing's text or "") for these
    needs' relevant judgements: the non-relevant one (a broker's rejection, a benchmark's grade 0) is a hard
    negative beside the batch's other passages."""
    index_of = {d["id"]: i for i, d in enumerate(bench.corpus)}
    rng = np.random.default_rng(seed)
    out = []
    for i in indices:
        q = bench.queries[i]
        title = query_views("needs", q)[0][0]
        judged = sorted((d, g) for d, g in bench.qrels.get(q["id"], {}).items()
                        if d in index_of and d not in q["exclude"])
        wrong = [document_text("results", bench.corpus[index_of[d]]) for d, g in judged if g <= 0]
        for doc, grade in judged:
            if grade >= bench.relevant:
                hard = wrong[int(rng.integers(len(wrong)))] if wrong and negatives else ""
                out.append((title, document_text("results", bench.corpus[index_of[doc]]), i, hard))
    return out


def _lora(linear: Any, seed: int) -> list[Any]:
    """Give a Linear layer a trainable low-rank update of its weight (a parametrization); returns A and B."""
    import torch
    from torch.nn.utils import parametrize

    class LowRank(torch.nn.Module):
        def __init__(self, out_dim: int, in_dim: int) -> None:
            super().__init__()
            g = torch.Generator().manual_seed(seed)
            self.a = torch.nn.Parameter(torch.randn(RANK, in_dim, generator=g) / in_dim ** 0.5)
            self.b = torch.nn.Parameter(torch.zeros(out_dim, RANK))

        def forward(self, weight: Any) -> Any:
            return weight + (self.b @ self.a) * (ALPHA / RANK)

    update = LowRank(*linear.weight.shape)
    parametrize.register_parametrization(linear, "weight", update)
    return [update.a, update.b]


def _merge_lora(model: Any) -> None:
    """Fold every LoRA update into its weight and drop the parametrization (a plain BERT again)."""
    from torch.nn.utils import parametrize

    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)


def _trainable(model: Any, mode: str, layers: int, seed: int) -> list[Any]:
    """Switch on learning for what the mode trains; returns those parameters."""
    if mode == "top-layers":
        params = [p for layer in model.encoder.layer[-layers:] for p in layer.parameters()] if layers else []
    elif mode == "full":
        params = [p for name, p in model.named_parameters() if not name.startswith("embeddings.word_embeddings")]
    elif mode == "lora":
        params = [p for name, module in model.named_modules() if name.endswith(LORA_TARGETS)
                  for p in _lora(module, seed)]
    else:
        raise ValueError(f"unknown fine-tuning mode {mode!r}; choose one of {', '.join(MODES)}")
    for p in params:
        p.requires_grad = True
    return params


def train(encoder: Any, pairs: Sequence[tuple[str, str, int, str]], layers: int = LAYERS, epochs: int = EPOCHS,
          lr: float | None = None, batch: int = BATCH, seed: int = 0, mode: str = "top-layers") -> dict[str, float]:
    """Fine-tune `encoder` (a FloatE5Encoder, changed in place) on pairs as the mode says; returns the CPU seconds,
    last loss and pair count."""
    import torch

    if not pairs:
        raise ValueError("no judged pair to fine-tune on")
    torch.manual_seed(seed)
    model = encoder.model
    for p in model.parameters():
        p.requires_grad = False
    params = _trainable(model, mode, layers, seed)
    opt = torch.optim.AdamW(params, lr=LR[mode] if lr is None else lr, weight_decay=0.01)
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
                hard = [p[3] for p in part if p[3]]
                d = torch.nn.functional.normalize(encoder.forward(encoder.ids([p[1] for p in part] + hard, False,
                                                                              128)), dim=-1)
                logits = q @ d.T / TAU
                need = torch.tensor([p[2] for p in part])
                same = (need[:, None] == need[None, :]) & ~torch.eye(len(part), dtype=torch.bool)
                # a hard negative counts against every row, except a row whose own positive it is (a listing
                # rejected for one need and confirmed for another)
                own = torch.tensor([[p[1] == h for h in hard] for p in part], dtype=torch.bool).reshape(len(part),
                                                                                                      len(hard))
                same = torch.cat([same, own], dim=1)
                step = torch.nn.functional.cross_entropy(logits.masked_fill(same, -1e4), torch.arange(len(part)))
                opt.zero_grad()
                step.backward()
                opt.step()
                loss = float(step.detach())
    finally:
        model.eval()
        _merge_lora(model)
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


def restore(encoder: Any, saved: dict[str, Any]) -> None:
    """Put back the weights `snapshot` took (the next fold starts from the stock model)."""
    encoder.model.load_state_dict(saved, strict=False)


def snapshot(encoder: Any) -> dict[str, Any]:
    """A copy of every weight some mode's fine-tuning changes (all but the frozen word embeddings)."""
    return {k: v.detach().clone() for k, v in encoder.model.state_dict().items()
            if not k.startswith("embeddings.word_embeddings")}

