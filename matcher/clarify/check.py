"""The need check a posting form runs: how complete the draft is, what is missing with an example for each, and the
cluster and keywords to suggest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matcher.catalogue.indexes import Indexes
from matcher.clarify import completeness as comp
from matcher.clarify.classifier import Clusters
from matcher.clarify.draft import Draft, as_draft
from matcher.clarify.examples import Examples
from matcher.clarify.keywords import suggest_keywords
from matcher.ingest.schemas import NeedIn
from matcher.ingest.vocab import Vocab

if TYPE_CHECKING:
    import numpy as np

    from matcher.access.policy import Principal


class Clarification:
    """What a need lacks, with prompts and examples, and its suggested cluster and keywords."""

    def __init__(self, vocab: Vocab, indexes: Indexes, clusters: Clusters, examples: Examples) -> None:
        self.vocab = vocab
        self.indexes = indexes
        self.clusters = clusters
        self.examples = examples

    def passage_vector(self, d: Draft) -> np.ndarray | None:
        """The draft's passage vector (as the catalogue would index it), through the embedding cache: posting the
        need afterwards encodes nothing again. None for an empty draft."""
        if not d.document.strip():
            return None
        return self.indexes.live.encode("needs", [d.row])[0]

    def suggest_cluster(self, draft: NeedIn | dict[str, Any] | Draft, top: int = 3) -> dict[str, Any]:
        """The classifier's cluster for a draft: {"industry", "industry_name", "industry_confidence",
        "alternatives"}."""
        ranked = self.clusters.suggest(self.passage_vector(as_draft(draft)), top)
        if not ranked:
            return {"industry": None, "industry_name": "", "industry_confidence": 0.0, "alternatives": []}
        name = self.vocab.industries.name
        code, p = ranked[0]
        return {"industry": code, "industry_name": name(code), "industry_confidence": round(p, 4),
                "alternatives": [{"industry": c, "industry_name": name(c), "confidence": round(q, 4)} for c,
                                 q in ranked]}

    def check_need(self, draft: NeedIn | dict[str, Any], *, viewer: Principal | bool | None = None,
                   lang: str = "zh") -> dict[str, Any]:
        """Score how completely a need draft is specified and say what is missing, each with a prompt and an example
        quoted from the nearest well-specified catalogue needs `viewer` may read (anonymous by default); suggest its
        cluster and keywords. Prompts in Chinese, or English (`lang="en"`); examples are quoted as written."""
        d = as_draft(draft)
        total, scores = comp.score(d)
        suggested = self.suggest_cluster(d)
        suggested["keywords"] = suggest_keywords(self.indexes.live.sides, d.text)
        gaps = sorted((f for f, s in scores.items() if s.credit < 1.0),
                      key=lambda f: -comp.WEIGHTS[f] * (1.0 - scores[f].credit))
        found = self.examples.neighbours(d.document, exclude=d.need_id, viewer=viewer) if gaps else []
        missing = []
        for f in gaps:
            credit = scores[f].credit
            item = {"field": f, "prompt": comp.prompt(f, credit, lang), "credit": credit, "weight": comp.WEIGHTS[f]}
            if f == "cluster" and suggested["industry"]:
                item["prompt"] += (f" Suggested: {self.vocab.industries.name(suggested['industry'], 'en')}."
                                   if lang == "en" else f"系统建议：{suggested['industry_name']}。")
                item.update(example=suggested["industry_name"], source=None)
            else:
                item.update(self.examples.pick(f, found))
            missing.append(item)
        return {
            "completeness": total,
            "complete": total >= comp.INCOMPLETE_BELOW,
            "threshold": comp.INCOMPLETE_BELOW,
            "fields": {f: s.credit for f, s in scores.items()},
            "present": [f for f, s in scores.items() if s.credit >= 1.0],
            "missing": missing,
            "suggested": suggested,
            "invalid": list(d.invalid),
        }
