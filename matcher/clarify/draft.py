"""A need as the clarification sees it: a half-filled form, a NeedIn, or a stored row, with the fields the author
really gave.

A form being filled in is often invalid (no title yet, a date typed half-way): the check still runs, on the fields
that validate, and names the ones that did not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from matcher.errors import Invalid
from matcher.ingest import normalize as nz
from matcher.ingest.schemas import NeedIn
from matcher.retrieval.documents import document_text

_INPUTS = set(NeedIn.model_fields) | {"wanted_maturity"}  # what a form or an import row may carry
_PLACEHOLDER = "未命名需求"


@dataclass(frozen=True)
class Draft:
    """A need's normalised fields (NeedIn's, as stored), the ones given explicitly, and those that did not
    validate."""

    row: dict[str, Any]
    given: frozenset[str]
    invalid: tuple[str, ...] = ()
    need_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.row.get("title") or ""

    @property
    def text(self) -> str:
        """Everything the firm wrote: title, description, challenge goal and indicators (keywords left out)."""
        parts = [self.row.get(k) or "" for k in ("title", "description", "challenge_goal", "challenge_indicators")]
        return "。".join(p for p in parts if p)

    @property
    def body(self) -> str:
        """The written text without the title (a title alone is no description)."""
        parts = [self.row.get(k) or "" for k in ("description", "challenge_goal", "challenge_indicators")]
        return "。".join(p for p in parts if p)

    @property
    def document(self) -> str:
        """The text the catalogue indexes the need by (its passage vector's text)."""
        return document_text("needs", self.row)


def _stored(row: dict[str, Any]) -> Draft:
    out = dict(row)
    out["budget_negotiable"] = bool(out.get("budget_negotiable"))
    return Draft(out, frozenset(k for k, v in row.items() if v not in (None, "", [])), need_id=int(row["id"]))


def as_draft(draft: NeedIn | dict[str, Any] | Draft) -> Draft:
    """A Draft from a NeedIn, a stored need row (it has an `id`) or a form's dict (validated leniently: fields that
    fail validation are left out and named in `invalid`)."""
    if isinstance(draft, Draft):
        return draft
    if isinstance(draft, NeedIn):
        return Draft(draft.model_dump(), frozenset(draft.model_fields_set))
    if not isinstance(draft, dict):
        raise Invalid(f"a need draft is a NeedIn or a dict, not {type(draft).__name__}")
    if draft.get("id") is not None and "created_at" in draft:
        return _stored(draft)
    data = {k: v for k, v in draft.items() if k in _INPUTS and not nz.is_blank(v)}
    title = nz.clean_text(data.get("title")) if isinstance(data.get("title"), str) else ""
    data["title"] = title or _PLACEHOLDER
    invalid: list[str] = []
    for _ in range(len(_INPUTS)):
        try:
            model = NeedIn.model_validate(data)
            break
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")} & set(data)
            if not bad:  # a check across fields (wanted TRL range upside down): drop the fields it is about
                bad = {k for k in ("wanted_trl_min", "wanted_trl_max", "wanted_maturity") if k in data}
            if not bad or "title" in bad:
                raise Invalid(f"the draft cannot be read: {exc.errors()[0].get('msg', exc)}") from None
            invalid.extend(sorted(bad))
            for key in bad:
                data.pop(key)
    row = model.model_dump()
    given = set(model.model_fields_set)
    if not title:
        row["title"] = ""
        given.discard("title")
    return Draft(row, frozenset(given), tuple(invalid))
