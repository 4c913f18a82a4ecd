"""The published needs catalogue (需求目录): the open, public needs grouped by industry cluster or district, with
the figures of its cover, rendered as XLSX, HTML or PDF.

A published catalogue is a public document: confidential needs are left out (only counted, as `withheld`), and
every listing carries a link to its page on the platform and a QR code of that link.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.errors import Invalid
from matcher.ingest.vocab import MaturityLevel, Vocab
from matcher.publish.labels import LANGS, label

if TYPE_CHECKING:
    from matcher.publish.fonts import CjkFont
    from matcher.service import MatchService

GROUPINGS = ("industry", "district")
FORMATS = ("xlsx", "html", "pdf")
SUFFIXES = {".xlsx": "xlsx", ".html": "html", ".htm": "html", ".pdf": "pdf"}
PAGE = 500  # needs read per page from the service
CHINA = dt.timezone(dt.timedelta(hours=8))  # the date printed is Chongqing's


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
class Catalogue:
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


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise Invalid(f"unknown catalogue format {fmt!r}; use one of {', '.join(FORMATS)}")


def _check(by: str, lang: str, base_url: str) -> None:
    if by not in GROUPINGS:
        raise Invalid(f"cannot group a catalogue by {by!r}; use one of {', '.join(GROUPINGS)}")
    if lang not in LANGS:
        raise Invalid(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise Invalid(f"the public address {base_url!r} (TECHMATCH_PUBLIC_URL) must start with http:// or https://")


def _open_needs(service: MatchService) -> list[dict[str, Any]]:
    """Every open need, as an insider reads it (the catalogue itself leaves out the confidential ones)."""
    rows: list[dict[str, Any]] = []
    while True:
        page, total = service.list_listings("needs", {"status": "open"}, sort="id", limit=PAGE, offset=len(rows))
        rows.extend(page)
        if not page or len(rows) >= total:
            return rows


def _entry(row: dict[str, Any], org: str, base_url: str) -> Entry:
    return Entry(id=row["id"], title=row["title"], org=org, industry=row.get("industry") or "other",
                 district=row.get("district"), description=row.get("description") or "", budget=row.get("budget"),
                 deadline=row.get("deadline"), trl_min=int(row.get("wanted_trl_min") or 1),
                 trl_max=int(row.get("wanted_trl_max") or 9), modes=list(row.get("coop_modes") or []),
                 keywords=list(row.get("keywords") or []), contact=row.get("contact") or "",
                 link=f"{base_url.rstrip('/')}/needs/{row['id']}", is_challenge=bool(row.get("is_challenge")),
                 reward=row.get("reward"), challenge_goal=row.get("challenge_goal") or "",
                 challenge_indicators=row.get("challenge_indicators") or "")


def _by_deadline(e: Entry) -> tuple[bool, str, int]:
    return (e.deadline is None, e.deadline or "", e.id)


def collect(service: MatchService, by: str = "industry", base_url: str = "", lang: str = "zh",
            today: dt.date | None = None) -> Catalogue:
    """The catalogue's content: open public needs grouped by cluster (vocabulary order) or district (vocabulary
    order, none last), soonest deadline first; open confidential needs only counted."""
    _check(by, lang, base_url)
    vocab = service.vocab
    rows = _open_needs(service)
    public = [r for r in rows if (r.get("confidentiality") or "public") == "public"]
    orgs = service.store.get_many("organisations", sorted({r["org_id"] for r in public if r.get("org_id")}))
    entries = [_entry(r, orgs.get(r.get("org_id"), {}).get("name", ""), base_url) for r in public]
    keyed: dict[str | None, list[Entry]] = {}
    for e in entries:
        keyed.setdefault(e.industry if by == "industry" else e.district, []).append(e)
    table = vocab.industries if by == "industry" else vocab.districts
    order = {code: n for n, code in enumerate(table.codes)}
    keys = sorted(keyed, key=lambda k: (k is None, order.get(k, len(order)), table.name(k) if k else ""))
    groups = [Group(k, table.name(k, lang) if k else label("no_district", lang), sorted(keyed[k], key=_by_deadline))
              for k in keys]
    return Catalogue(by, lang, today or dt.datetime.now(CHINA).date(), groups, len(rows) - len(public), vocab,
                     base_url)


def render(catalogue: Catalogue, fmt: str, font: CjkFont | str | Path | None = None) -> bytes:
    """A collected catalogue as the bytes of a file in `fmt` (a PDF in the CJK font `font`, found if not given)."""
    _check_format(fmt)
    if fmt == "xlsx":
        from matcher.publish.xlsx import render_xlsx

        return render_xlsx(catalogue)
    if fmt == "html":
        from matcher.publish.html import render_html

        return render_html(catalogue)
    from matcher.publish.pdf import render_pdf

    return render_pdf(catalogue, font)


def _settings_default(service: MatchService, name: str, given: Any) -> Any:
    """An argument left empty falls back to the service's setting of that name (public_url, cjk_font)."""
    return given or getattr(service.settings, name) or None


def _prepared(service: MatchService, by: str, fmt: str, base_url: str, lang: str, font: str | Path | None
              ) -> tuple[Catalogue, CjkFont | None]:
    base_url = _settings_default(service, "public_url", base_url) or ""
    _check(by, lang, base_url)
    _check_format(fmt)
    found = None
    if fmt == "pdf":  # a missing CJK font is refused before the catalogue is read
        from matcher.publish.fonts import find_cjk_font

        found = find_cjk_font(_settings_default(service, "cjk_font", font))
    return collect(service, by, base_url, lang), found


def publish(service: MatchService, by: str = "industry", fmt: str = "xlsx", base_url: str = "", lang: str = "zh",
            font: str | Path | None = None) -> bytes:
    """The published needs catalogue as bytes (xlsx, html or pdf): open public needs grouped by `by`.

    `base_url` (default: the `public_url` setting, TECHMATCH_PUBLIC_URL) prefixes each listing's link
    `/needs/{id}`; empty leaves the links relative. `font` (default: the `cjk_font` setting, TECHMATCH_CJK_FONT)
    is the CJK font file of a PDF."""
    catalogue, font = _prepared(service, by, fmt, base_url, lang, font)
    return render(catalogue, fmt, font)


def publish_to(service: MatchService, out: Path | str, by: str = "industry", fmt: str | None = None,
               base_url: str = "", lang: str = "zh", font: str | Path | None = None) -> dict[str, Any]:
    """Write the published catalogue to `out` atomically (format from its suffix unless given); its figures."""
    out = Path(out)
    if fmt is None:
        fmt = SUFFIXES.get(out.suffix.lower())
        if fmt is None:
            raise Invalid(f"cannot tell the catalogue format of {out.name!r}: use a .pdf, .html or .xlsx file")
    catalogue, font = _prepared(service, by, fmt, base_url, lang, font)
    data = render(catalogue, fmt, font)
    write_atomically(out, data)
    return {**catalogue.figures(), "format": fmt, "path": str(out), "bytes": len(data)}


def write_atomically(out: Path, data: bytes) -> None:
    """Write a file so that a reader sees the old one or the whole new one, never a part."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
