"""What a published needs catalogue holds: its entries, groups and cover figures, and how its values are printed —
shared by the three renderers (matcher/publish/{xlsx,html,pdf}.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from matcher.ingest.vocab import MaturityLevel, Vocab
from matcher.publish.labels import label


@dataclass(frozen=True)
class Entry:
    """One published need, as the catalogue prints it (codes kept; names come from the catalogue's vocabulary)."""

    id: int
    title: str
    org: str
    industry: str
    district: str | None
    description: str
    budget: float | None  # 万元; None: 面议
    deadline: str | None
    trl_min: int
    trl_max: int
    modes: list[str]
    keywords: list[str]
    contact: str
    link: str
    is_challenge: bool = False
    reward: float | None = None
    challenge_goal: str = ""
    challenge_indicators: str = ""


@dataclass(frozen=True)
class Group:
    """The needs of one cluster or district, soonest deadline first."""

    key: str | None
    name: str
    entries: list[Entry]

    @property
    def budget(self) -> float | None:
        """The group's stated budgets summed (万元); None when every one is 面议."""
        stated = [e.budget for e in self.entries if e.budget is not None]
        return sum(stated) if stated else None


@dataclass
class NeedsCatalogue:
    """What a published catalogue holds: its groups, what was withheld, and the words and names to print."""

    by: str
    lang: str
    date: dt.date
    groups: list[Group]
    withheld: int
    vocab: Vocab = field(repr=False)
    base_url: str = ""

    @property
    def entries(self) -> list[Entry]:
        return [e for g in self.groups for e in g.entries]

    @property
    def title(self) -> str:
        return label("title", self.lang)

    @property
    def subtitle(self) -> str:
        return label(f"by_{self.by}", self.lang)

    def label(self, key: str, **values: object) -> str:
        return label(key, self.lang, **values)

    @property
    def date_text(self) -> str:
        d = self.date
        return f"{d.year}年{d.month}月{d.day}日" if self.lang == "zh" else d.isoformat()

    def figures(self) -> dict[str, Any]:
        """The cover's figures: needs published, withheld, per group, and the stated budget."""
        entries = self.entries
        stated = [e.budget for e in entries if e.budget is not None]
        return {"by": self.by, "date": self.date.isoformat(), "open": len(entries) + self.withheld,
                "published": len(entries), "withheld": self.withheld,
                "groups": {g.name: len(g.entries) for g in self.groups},
                "budget_total": round(sum(stated), 4), "budget_stated": len(stated),
                "negotiable": len(entries) - len(stated), "relative_links": not self.base_url}

    # -- printed values -------------------------------------------------------------------
    def cluster(self, e: Entry) -> str:
        return self.vocab.industries.name(e.industry, self.lang)

    def district(self, e: Entry) -> str:
        return self.vocab.districts.name(e.district, self.lang) if e.district else ""

    def modes(self, e: Entry) -> str:
        return ("、" if self.lang == "zh" else ", ").join(self.vocab.transfer_modes.name(m, self.lang)
                                                         for m in e.modes)

    def keywords(self, e: Entry) -> str:
        return ("、" if self.lang == "zh" else ", ").join(e.keywords)

    def money(self, amount: float | None) -> str:
        """An amount of 万元 as printed: 150 万元 (in English CNY 1,500,000), or 面议 for None."""
        if amount is None:
            return self.label("negotiable")
        return self.label("wan", amount=amount_text(amount if self.lang == "zh" else amount * 10_000))

    def field(self, key: str) -> str:
        """A label followed by its colon (需求描述：, Description: )."""
        return self.label(key) + self.label("colon")

    def budget_total(self) -> str:
        """The stated budgets summed, as printed (面议 when no need states one)."""
        f = self.figures()
        return self.money(f["budget_total"] if f["budget_stated"] else None)

    def deadline(self, e: Entry) -> str:
        return e.deadline or self.label("no_deadline")

    def maturity(self, e: Entry) -> str:
        """The wanted TRL range, with the platform's maturity label when the range is one (通过中试及以上)."""
        if (e.trl_min, e.trl_max) == (1, 9):
            return self.label("any_trl")
        text = f"TRL {e.trl_min}" if e.trl_min == e.trl_max else f"TRL {e.trl_min}–{e.trl_max}"
        level = maturity_level(self.vocab, e)
        if level is None:
            return text
        name = level.name(self.lang)
        return text + self.label("paren", text=name if level.trl_max == 9 else self.label("and_above", label=name))


def amount_text(amount: float) -> str:
    """An amount of 万元 as printed: 150, 12.5, 1,234.57."""
    return f"{amount:,.2f}".rstrip("0").rstrip(".")


def maturity_level(vocab: Vocab, e: Entry) -> MaturityLevel | None:
    """The maturity label a need's wanted range was read from (label's minimum up to TRL 9), if any."""
    if e.trl_max != 9:
        return None
    return next((m for m in vocab.maturity if m.trl_min == e.trl_min), None)
