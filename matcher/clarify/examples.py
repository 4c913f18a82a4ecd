"""Examples for a missing field, quoted from the catalogue: the nearest well-specified needs that have the field.

The neighbours come from the service's own dense search over needs, the draft's text encoded as a query, as an
anonymous caller may see them (a confidential need is never quoted). For each field the first neighbour, in order
of similarity, that is itself complete and has the field gives the example (the sentence that earns the credit, or
the field's value); then any neighbour that has the field; a fixed example only when none does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from matcher.catalogue.indexes import Indexes
from matcher.clarify import completeness as comp
from matcher.clarify.draft import Draft, as_draft
from matcher.ingest import normalize as nz
from matcher.ingest.vocab import Vocab
from matcher.matching.service import Matching
from matcher.retrieval.documents import document_text

if TYPE_CHECKING:
    from matcher.access.policy import Principal

NEIGHBOURS = 20  # needs looked at for examples
EXAMPLE_MAX = 160  # characters of a quoted sentence


@dataclass(frozen=True)
class Neighbour:
    """A catalogue need near the draft, with its own field scores."""

    id: int
    title: str
    draft: Draft
    completeness: float
    scores: dict[str, comp.FieldScore]


def _quote(text: str) -> str:
    text = text.strip()
    return text if len(text) <= EXAMPLE_MAX else text[:EXAMPLE_MAX - 1] + "…"


class Examples:
    """Examples for a need's missing fields, drawn from public listings like it."""

    def __init__(self, vocab: Vocab, indexes: Indexes, matching: Matching) -> None:
        self.vocab = vocab
        self.indexes = indexes
        self.matching = matching

    def neighbours(self, text: str, exclude: int | None = None, k: int = NEIGHBOURS,
                   viewer: Principal | bool | None = None) -> list[Neighbour]:
        """The needs nearest to a text by dense similarity (as `viewer` may see them: anonymous by default), scored."""
        if not text.strip() or not len(self.indexes.live.sides["needs"].dense):
            return []
        out = []
        for m in self.matching.search(text, side="needs", top_k=k + 1, method="dense", viewer=viewer):
            if m.id == exclude or document_text("needs", m.item) == text:  # the need itself, saved or not
                continue
            d = as_draft(m.item)
            total, scores = comp.score(d)
            out.append(Neighbour(m.id, m.item.get("title") or "", d, total, scores))
        return out[:k]

    def _maturity(self, lo: int, hi: int) -> str:
        label = next((m.label for m in self.vocab.maturity if m.trl_min == lo), None)
        return f"期望成熟度：{label or nz.label_for_trl(lo, self.vocab)}（TRL {lo}–{hi}）"

    def example_text(self, field: str, n: Neighbour) -> str:
        """How a neighbour shows a field: its sentence for text fields, its value for form fields."""
        row = n.draft.row
        if field == "trl":
            lo, hi = int(row.get("wanted_trl_min") or 1), int(row.get("wanted_trl_max") or 9)
            return self._maturity(lo, hi) if (lo, hi) != (1, 9) else f"文中写明：{n.scores[field].evidence}"
        if field == "budget":
            return n.scores[field].evidence if row.get("budget") else "预算面议"
        if field == "deadline":
            return f"期望{row['deadline']}前完成" if row.get("deadline") else n.scores[field].evidence
        if field == "cluster":
            return self.vocab.industries.name(row.get("industry") or "other")
        if field == "substance":
            return _quote(row.get("description") or n.title)
        return _quote(n.scores[field].evidence)

    def pick(self, field: str, found: Sequence[Neighbour]) -> dict[str, Any]:
        """The example for one field: {"example", "source": {"need_id", "title"} or None}."""
        having = [n for n in found if n.scores[field].credit >= 1.0]
        best = next((n for n in having if n.completeness >= comp.INCOMPLETE_BELOW), having[0] if having else None)
        if best is None:
            return {"example": comp.FALLBACK_EXAMPLES[field], "source": None}
        return {"example": self.example_text(field, best), "source": {"need_id": best.id, "title": best.title}}
