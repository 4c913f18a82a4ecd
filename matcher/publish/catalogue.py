"""The published needs catalogue (需求目录): the open, public needs grouped by industry cluster or district, with
the figures of its cover, rendered as XLSX, HTML or PDF.

A published catalogue is a public document: confidential needs are left out (only counted, as `withheld`), and
every listing carries a link to its page on the platform and a QR code of that link.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.catalogue.service import Catalogue
from matcher.errors import Invalid
from matcher.ingest.vocab import Vocab
from matcher.localtime import today as beijing_today
from matcher.publish.content import Entry, Group, NeedsCatalogue
from matcher.publish.html import render_html
from matcher.publish.labels import LANGS, label
from matcher.publish.pdf import render_pdf
from matcher.publish.xlsx import render_xlsx
from matcher.retrieval.index import atomic_write
from matcher.settings import Settings
from matcher.store import Store

if TYPE_CHECKING:
    from matcher.publish.fonts import CjkFont

GROUPINGS = ("industry", "district")
FORMATS = ("xlsx", "html", "pdf")
SUFFIXES = {".xlsx": "xlsx", ".html": "html", ".htm": "html", ".pdf": "pdf"}
PAGE = 500  # needs read per page from the service


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


def render(catalogue: NeedsCatalogue, fmt: str, font: CjkFont | str | Path | None = None) -> bytes:
    """A collected catalogue as the bytes of a file in `fmt` (a PDF in the CJK font `font`, found if not given)."""
    _check_format(fmt)
    if fmt == "xlsx":
        return render_xlsx(catalogue)
    if fmt == "html":
        return render_html(catalogue)
    return render_pdf(catalogue, font)


class Publishing:
    """The published needs catalogue (需求目录) in XLSX, HTML or PDF."""

    def __init__(self, settings: Settings, store: Store, vocab: Vocab, catalogue: Catalogue) -> None:
        self.settings = settings
        self.store = store
        self.vocab = vocab
        self.catalogue = catalogue

    def _open_needs(self) -> list[dict[str, Any]]:
        """Every open need, as an insider reads it (the catalogue itself leaves out the confidential ones)."""
        rows: list[dict[str, Any]] = []
        while True:
            page, total = self.catalogue.list_listings("needs", {"status": "open"}, sort="id", limit=PAGE,
                                                       offset=len(rows))
            rows.extend(page)
            if not page or len(rows) >= total:
                return rows

    def collect(self, by: str = "industry", base_url: str = "", lang: str = "zh",
                today: dt.date | None = None) -> NeedsCatalogue:
        """The catalogue's content: open public needs grouped by cluster (vocabulary order) or district (vocabulary
        order, none last), soonest deadline first; open confidential needs only counted."""
        _check(by, lang, base_url)
        vocab = self.vocab
        rows = self._open_needs()
        public = [r for r in rows if (r.get("confidentiality") or "public") == "public"]
        orgs = self.store.get_many("organisations", sorted({r["org_id"] for r in public if r.get("org_id")}))
        entries = [_entry(r, orgs.get(r.get("org_id"), {}).get("name", ""), base_url) for r in public]
        keyed: dict[str | None, list[Entry]] = {}
        for e in entries:
            keyed.setdefault(e.industry if by == "industry" else e.district, []).append(e)
        table = vocab.industries if by == "industry" else vocab.districts
        order = {code: n for n, code in enumerate(table.codes)}
        keys = sorted(keyed, key=lambda k: (k is None, order.get(k, len(order)), table.name(k) if k else ""))
        groups = [Group(k, table.name(k, lang) if k else label("no_district", lang), sorted(keyed[k], key=_by_deadline))
                  for k in keys]
        return NeedsCatalogue(by, lang, today or beijing_today(), groups, len(rows) - len(public), vocab,
                              base_url)

    def _settings_default(self, name: str, given: Any) -> Any:
        """An argument left empty falls back to the service's setting of that name (public_url, cjk_font)."""
        return given or getattr(self.settings, name) or None

    def _prepared(self, by: str, fmt: str, base_url: str, lang: str, font: str | Path | None
                  ) -> tuple[NeedsCatalogue, CjkFont | None]:
        base_url = self._settings_default("public_url", base_url) or ""
        _check(by, lang, base_url)
        _check_format(fmt)
        found = None
        if fmt == "pdf":  # a missing CJK font is refused before the catalogue is read
            from matcher.publish.fonts import find_cjk_font

            found = find_cjk_font(self._settings_default("cjk_font", font))
        return self.collect(by, base_url, lang), found

    def publish(self, by: str = "industry", fmt: str = "xlsx", base_url: str = "", lang: str = "zh",
                font: str | Path | None = None) -> bytes:
        """The published needs catalogue as bytes (xlsx, html or pdf): open public needs grouped by `by`.

        `base_url` (default: the `public_url` setting, TECHMATCH_PUBLIC_URL) prefixes each listing's link
        `/needs/{id}`; empty leaves the links relative. `font` (default: the `cjk_font` setting, TECHMATCH_CJK_FONT)
        is the CJK font file of a PDF."""
        catalogue, font = self._prepared(by, fmt, base_url, lang, font)
        return render(catalogue, fmt, font)

    def publish_to(self, out: Path | str, by: str = "industry", fmt: str | None = None,
                   base_url: str = "", lang: str = "zh", font: str | Path | None = None) -> dict[str, Any]:
        """Write the published catalogue to `out` atomically (format from its suffix unless given); its figures."""
        out = Path(out)
        if fmt is None:
            fmt = SUFFIXES.get(out.suffix.lower())
            if fmt is None:
                raise Invalid(f"cannot tell the catalogue format of {out.name!r}: use a .pdf, .html or .xlsx file")
        catalogue, font = self._prepared(by, fmt, base_url, lang, font)
        data = render(catalogue, fmt, font)
        def write(tmp: str) -> None:
            Path(tmp).write_bytes(data)
            Path(tmp).chmod(0o644)  # a document to hand out, not a private file

        atomic_write(out, write)
        return {**catalogue.figures(), "format": fmt, "path": str(out), "bytes": len(data)}
