"""A cross-encoder reranker (`techmatch tune --mode cross-encoder`, method `hybrid-ce`): the hybrid's top DEPTH
candidates re-ordered by a model that reads the need and the listing together.

Built like PreTTR (MacAvaney et al., SIGIR 2020) on the float e5: its bottom layers run on each text alone, exactly
as e5 was trained (the need as "query: …" cut to NEED_TOKENS, the listing as "passage: …" cut to LISTING_TOKENS),
so their states are computed once per text — for a whole cross-validation, and once per listing in a batch run —
and only the top LAYERS layers run on the two joined. Each joined layer mixes its output with attention kept
within each text and with attention across both: h = local + g·(across − local), one gate g per layer starting at
0, so an untrained model is exactly the bi-encoder (its score is the scaled cosine of the two texts' mean-pooled
states) and training moves it only as far as the judgements ask. The score adds a linear read-out of the joined
first token (starting at 0). What learns: those layers, the gates, the scale and the read-out (the base model's
weights stay as they are); saved as a delta of ~7 MB beside the index, with the base model's weights hash — it is
never run on another base.

The hybrid's order is not thrown away: the re-ordered top DEPTH are sorted by z(hybrid score) + BETA · z(cross-
encoder score) (z over those candidates), and take the hybrid's score values in their new order, so boosts and
thresholds read on the same scale (each keeps its own hybrid score as "hybrid" and calibrated confidence); below
DEPTH the hybrid's order stays.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import EncoderUnavailable

LAYERS = 1  # top transformer layers run on the joined pair (and trained)
NEED_TOKENS, LISTING_TOKENS = 128, 64
DEPTH = 30  # hybrid candidates re-ordered
BETA = 0.25  # weight of its z-score beside the hybrid's (bdci-dev CV: 0.25 +0.008, 0.5 −0.001, 1 −0.009)
EPOCHS = 3
GROUP = 32  # candidates of one need per training step (all its relevant ones kept)
LR_LAYERS, LR_HEAD, LR_GATES = 5e-5, 1e-3, 1e-2
CACHE = 2048  # texts whose bottom states a process keeps (64–128 tokens × 384 floats: ≤ 0.4 GB)
FILE = "cross-encoder.safetensors"


@dataclass
class Group:
    """One need's training list: its text, candidate listing texts and their grades (0 = not relevant)."""

    need: str
    listings: list[str]
    grades: list[float]


class CrossEncoder:
    """The reranker: a float e5's bottom layers (shared, frozen) and its own top layers, gates and head."""

    def __init__(self, base: Any, state: dict[str, Any] | None = None, meta: dict[str, Any] | None = None,
                 cache: int = CACHE) -> None:
        import torch

        self.base = base  # a FloatE5Encoder (embeddings.e5_float)
        self._torch = torch
        layers = base.model.encoder.layer
        self.bottom = len(layers) - LAYERS
        self.layers = torch.nn.ModuleList([copy.deepcopy(layer) for layer in layers[self.bottom:]])
        dim = base.model.config.hidden_size
        self.gates = torch.nn.Parameter(torch.zeros(LAYERS))
        self.scale = torch.nn.Parameter(torch.tensor(20.0))
        self.readout = torch.nn.Linear(dim, 1)
        torch.nn.init.zeros_(self.readout.weight)
        torch.nn.init.zeros_(self.readout.bias)
        if state is not None:
            self.load_state(state)
        self.meta = dict(meta or {})
        self.layers.eval()
        self.cache = cache
        self.beta = float(self.meta.get("beta", BETA))  # weight beside the hybrid when re-ranking
        self._states: OrderedDict[tuple[bool, str], Any] = OrderedDict()
        self._lock = threading.Lock()  # the API scores in several threads at once

    # -- parameters -------------------------------------------------------------------------
    def parameters(self) -> dict[str, list[Any]]:
        """What learns, by learning-rate group."""
        return {"layers": list(self.layers.parameters()), "head": [self.scale, *self.readout.parameters()],
                "gates": [self.gates]}

    def state(self) -> dict[str, Any]:
        """Every learnt tensor by name (the delta that is saved)."""
        out = {f"layers.{k}": v for k, v in self.layers.state_dict().items()}
        out.update({"gates": self.gates.data, "scale": self.scale.data.reshape(1),
                    "readout.weight": self.readout.weight.data, "readout.bias": self.readout.bias.data})
        return out

    def load_state(self, state: dict[str, Any]) -> None:
        """Put learnt tensors back (a saved delta, or a snapshot taken before a fold)."""
        self.layers.load_state_dict({k[len("layers."):]: v for k, v in state.items() if k.startswith("layers.")})
        with self._torch.no_grad():
            self.gates.copy_(state["gates"])
            self.scale.copy_(state["scale"].reshape(()))
            self.readout.weight.copy_(state["readout.weight"])
            self.readout.bias.copy_(state["readout.bias"])

    def snapshot(self) -> dict[str, Any]:
        """A copy of the learnt tensors (cross-validation starts every fold from the same model)."""
        return {k: v.detach().clone() for k, v in self.state().items()}

    # -- scoring ----------------------------------------------------------------------------
    def states(self, texts: Sequence[str], is_query: bool) -> list[Any]:
        """Each text's hidden states below the joined layers (kept in a bounded per-process cache)."""
        from embeddings.e5_float import padded

        torch = self._torch
        with self._lock:
            found = {t: self._states[(is_query, t)] for t in texts if (is_query, t) in self._states}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        width = NEED_TOKENS if is_query else LISTING_TOKENS
        for start in range(0, len(missing), 32):
            part = missing[start:start + 32]
            ids = self.base.ids(part, is_query, width)
            batch, mask = padded(torch, ids, self.base.tokens.pad)
            with torch.inference_mode():
                hidden = self.base.model(input_ids=batch, attention_mask=mask,
                                         output_hidden_states=True).hidden_states[self.bottom]
            for row, (text, seq) in enumerate(zip(part, ids)):
                found[text] = hidden[row, :len(seq)].clone()
        with self._lock:
            for t in texts:
                self._states[(is_query, t)] = found[t]
                self._states.move_to_end((is_query, t))
            while len(self._states) > self.cache:
                self._states.popitem(last=False)
        return [found[t] for t in texts]

    def forward(self, need: Any, listings: Sequence[Any]) -> Any:
        """Scores (a tensor; gradients flow when enabled) of one need's states joined with each listing's."""
        from transformers.masking_utils import create_bidirectional_mask

        torch = self._torch
        n, dim = need.shape
        k = len(listings)
        width = n + max(len(x) for x in listings)
        h = torch.zeros(k, width, dim)
        mask = torch.zeros(k, width, dtype=torch.long)
        h[:, :n] = need
        mask[:, :n] = 1
        for row, x in enumerate(listings):
            h[row, n:n + len(x)] = x
            mask[row, n:n + len(x)] = 1
        config = self.base.model.config
        across = create_bidirectional_mask(config=config, inputs_embeds=h, attention_mask=mask)
        for j, (gate, layer) in enumerate(zip(self.gates, self.layers)):
            if j == 0:  # within-text attention of the first joined layer: once for the need, once per listing
                own = _hidden(layer(need[None], None))
                theirs = _hidden(layer(h[:, n:], create_bidirectional_mask(config=config, inputs_embeds=h[:, n:],
                                                                           attention_mask=mask[:, n:])))
                local = torch.cat([own.expand(k, n, dim), theirs], dim=1)
            else:
                local = _hidden(layer(h, _within(torch, mask, n, h.dtype)))
            h = local + gate * (_hidden(layer(h, across)) - local)
        m = mask.unsqueeze(-1).to(h.dtype)
        qm, dm = m.clone(), m.clone()
        qm[:, n:] = 0
        dm[:, :n] = 0
        q = torch.nn.functional.normalize((h * qm).sum(1) / qm.sum(1), dim=-1)
        d = torch.nn.functional.normalize((h * dm).sum(1) / dm.sum(1), dim=-1)
        return self.scale * (q * d).sum(-1) + self.readout(h[:, 0]).squeeze(-1)

    def score(self, needs: Sequence[str], listings: Sequence[str]) -> np.ndarray:
        """Scores of pairs (needs[i], listings[i]); one need with many listings is the common case."""
        torch = self._torch
        if not needs:
            return np.zeros(0, dtype=np.float32)
        need_states = self.states(needs, True)
        listing_states = self.states(listings, False)
        out = np.zeros(len(needs), dtype=np.float32)
        by_need: dict[str, list[int]] = {}
        for i, t in enumerate(needs):
            by_need.setdefault(t, []).append(i)
        with torch.inference_mode():
            for rows in by_need.values():
                for start in range(0, len(rows), 32):
                    part = rows[start:start + 32]
                    out[part] = self.forward(need_states[part[0]], [listing_states[i] for i in part]).numpy()
        return out

    # -- files ------------------------------------------------------------------------------
    def name(self) -> str:
        """The model's version: a hash of its learnt tensors and base model."""
        h = hashlib.sha256(str(self.base.name).encode())
        for k, v in sorted(self.state().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().numpy().astype(np.float32).tobytes())
        return f"ce-{h.hexdigest()[:12]}"

    def save(self, folder: Path) -> Path:
        """Write the delta and its manifest (with `meta["trained_on"]`) as one file beside the index, atomically."""
        from safetensors.torch import save

        from matcher.retrieval.index import atomic_write

        self.meta = {"name": self.name(), "base": self.base.name, "layers": LAYERS, "need_tokens": NEED_TOKENS,
                     "listing_tokens": LISTING_TOKENS, "depth": DEPTH, "beta": self.beta,
                     "trained_on": self.meta.get("trained_on")}
        tensors = {k: v.detach().contiguous() for k, v in self.state().items()}
        path = Path(folder) / FILE
        data = save(tensors, metadata={"manifest": json.dumps(self.meta, ensure_ascii=False)})
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        return path

    @classmethod
    def load(cls, folder: Path, base: Callable[[], Any]) -> CrossEncoder | None:
        """The installed reranker of an index folder on its base model (None: none installed). One that cannot
        run here — torch missing, trained on another base model or shape — is an `Unusable` error saying why."""
        path = Path(folder) / FILE
        if not path.exists():
            return None
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as fh:
                meta = json.loads(fh.metadata()["manifest"])
                state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open has no iterator
            encoder = base()
        except (ImportError, EncoderUnavailable) as exc:
            raise Unusable(f"the cross-encoder in {path.parent} needs torch and the float e5 ({exc})") from exc
        if meta.get("base") != encoder.name or meta.get("layers") != LAYERS:
            raise Unusable(f"the cross-encoder in {path.parent} was trained on {meta.get('base')} with "
                           f"{meta.get('layers')} joined layer(s), not on {encoder.name} with {LAYERS}: train it "
                           "again (`techmatch tune --mode cross-encoder`)")
        return cls(encoder, state, meta)


class Unusable(Exception):
    """An installed cross-encoder that cannot run in this process (the reason is the message)."""


def _within(torch: Any, mask: Any, n: int, dtype: Any) -> Any:
    """An additive attention mask keeping each token's attention within its own text (need: the first n)."""
    seg = torch.zeros_like(mask)
    seg[:, n:] = 1
    alive = mask > 0
    allowed = (seg[:, :, None] == seg[:, None, :]) & alive[:, :, None] & alive[:, None, :]
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)[:, None]


def _hidden(out: Any) -> Any:
    return out[0] if isinstance(out, tuple) else out


def train(model: CrossEncoder, groups: Sequence[Group], epochs: int = EPOCHS, seed: int = 0) -> dict[str, float]:
    """Fit the reranker (in place) with a listwise loss: each need's candidates against the softmax of their
    scores, the target spread over its relevant ones by gain 2^grade − 1; returns CPU seconds, last loss, needs."""
    torch = model._torch
    usable = [g for g in groups if max(g.grades, default=0) > 0]
    if not usable:
        raise ValueError("no judged need with a relevant listing to train the cross-encoder on")
    torch.manual_seed(seed)
    params = model.parameters()
    opt = torch.optim.AdamW([{"params": params["layers"], "lr": LR_LAYERS},
                             {"params": params["head"], "lr": LR_HEAD},
                             {"params": params["gates"], "lr": LR_GATES}], weight_decay=0.01)
    for p in (p for ps in params.values() for p in ps):
        p.requires_grad = True
    model.states([g.need for g in usable], True)
    rng = np.random.default_rng(seed)
    started, loss = time.process_time(), float("nan")
    model.layers.train()
    try:
        for _ in range(epochs):
            for gi in rng.permutation(len(usable)):
                g = usable[gi]
                picked = _pick(g.grades, rng)
                need = model.states([g.need], True)[0]
                listings = model.states([g.listings[i] for i in picked], False)
                gains = torch.tensor([2.0 ** g.grades[i] - 1 for i in picked])
                scores = model.forward(need, listings)
                step = -((gains / gains.sum()) * torch.log_softmax(scores, 0)).sum()
                opt.zero_grad()
                step.backward()
                opt.step()
                loss = float(step.detach())
    finally:
        model.layers.eval()
        for p in (p for ps in params.values() for p in ps):
            p.requires_grad = False
    return {"cpu_s": round(time.process_time() - started, 1), "loss": round(loss, 4), "needs": len(usable),
            "gates": [round(float(g), 4) for g in model.gates.detach()], "scale": round(float(model.scale), 3)}


def _pick(grades: Sequence[float], rng: np.random.Generator) -> list[int]:
    """A training step's candidates: every relevant one, then a random sample of the rest up to GROUP."""
    good = [i for i, g in enumerate(grades) if g > 0]
    rest = [i for i, g in enumerate(grades) if g <= 0]
    room = max(GROUP - len(good), min(len(rest), 8))
    return good + sorted(rng.choice(rest, min(room, len(rest)), replace=False).tolist()) if rest else good


def rerank(scored: list[Any], need_texts: Sequence[str], listing_texts: Sequence[str], model: CrossEncoder,
           depth: int = DEPTH, beta: float | None = None) -> list[Any]:
    """Re-order the first `depth` ranked items (`ranking.Scored`) by z(score) + beta · z(cross-encoder score)
    (beta: the model's own unless given);
    they keep the hybrid's score values, handed out in the new order; the cross-encoder's own score joins their
    components ("cross"). Texts are given per item, the need's and the listing's of each pair."""
    head = scored[:depth]
    if len(head) < 2:
        return scored
    cross = model.score(list(need_texts[:len(head)]), list(listing_texts[:len(head)]))
    base = np.asarray([s.score for s in head], dtype=np.float64)
    combined = _z(base) + (model.beta if beta is None else beta) * _z(cross.astype(np.float64))
    order = np.argsort(-combined, kind="stable")
    values = sorted(base.tolist(), reverse=True)
    out = []
    for value, i in zip(values, order):
        s = head[int(i)]
        s.components = {**s.components, "hybrid": s.score, "cross": round(float(cross[i]), 4)}
        s.score = float(value)
        out.append(s)
    return out + scored[depth:]


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)
