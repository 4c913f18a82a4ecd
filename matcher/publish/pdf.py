"""The catalogue as a printable A4 PDF (fpdf2) set in a CJK font: a cover with the figures and the groups with
their page numbers, then each group's needs as blocks with their fields and a QR code; page numbers below."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpdf import FPDF

from matcher.publish.content import Entry, NeedsCatalogue
from matcher.publish.fonts import CjkFont, find_cjk_font
from matcher.publish.qr import qr_runs
from matcher.publish.wrap import wrap

INK, MUTED, LINE, BRAND, RED, PALE = (31, 41, 51), (95, 107, 122), (216, 222, 230), (31, 56, 100), (183, 28, 28), \
    (240, 243, 247)
MARGIN, QR, GAP = 18.0, 24.0, 6.0  # mm
LONG = 600  # characters of a description, goal or indicators printed; the link leads to the rest


class Layout:
    """Wrapped text placed from a y; the same calls measure a block (draw=False) or draw it."""

    def __init__(self, pdf: CataloguePDF, draw: bool) -> None:
        self.pdf, self.draw = pdf, draw

    def text(self, x: float, y: float, width: float, text: str, size: float, height: float, style: str = "",
             color: tuple[int, int, int] = INK, indent: float = 0.0) -> float:
        """Wrapped text from (x, y), the first line `indent` in; the y below it. Drawing breaks the page where a
        line would not fit (only a block taller than a page has such a line)."""
        pdf = self.pdf
        pdf.set_font("cjk", style, size)
        lines = pdf.wrapped(text, width, indent, style, size)
        if not self.draw:
            return y + len(lines) * height
        pdf.set_text_color(*color)
        for n, line in enumerate(lines):
            if y + height > pdf.page_break_trigger:
                pdf.add_page()
                y = pdf.t_margin
            pdf.set_xy(x + (indent if n == 0 else 0.0), y)
            pdf.cell(width - (indent if n == 0 else 0.0), height, line)
            y += height
        return y


class CataloguePDF(FPDF):
    """An A4 document in the CJK font, with the running header (title, date, group) and page-numbered footer."""

    def __init__(self, catalogue: NeedsCatalogue, font: CjkFont) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.catalogue = catalogue
        self.add_font("cjk", "", str(font.regular), collection_font_number=font.regular_index)
        self.add_font("cjk", "B", str(font.bold), collection_font_number=font.bold_index)
        if font.fallback is not None:  # e.g. the superscripts of 10⁻⁶, which Noto Sans CJK lacks
            self.add_font("fallback", "", str(font.fallback))
            self.set_fallback_fonts(["fallback"], exact_match=False)
        self.set_margins(MARGIN, 20.0, MARGIN)
        self.set_auto_page_break(False, margin=16.0)  # blocks are placed whole, or broken line by line (Layout)
        self.page_break_trigger = self.h - 16.0
        self.set_title(f"{catalogue.title} {catalogue.date.isoformat()}")
        self.set_creator("techmatch")
        self.set_lang("zh-CN" if catalogue.lang == "zh" else "en")
        self.group_name = ""
        self._wrapped: dict[tuple[str, float, str, float, float], list[str]] = {}

    def wrapped(self, text: str, width: float, indent: float, style: str, size: float) -> list[str]:
        """`text` wrapped in the current font (the same text is measured, then drawn: wrapped once)."""
        key = (text, width, style, size, indent)
        if key not in self._wrapped:
            self._wrapped[key] = wrap(text, width, self.get_string_width, indent)
        return self._wrapped[key]

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("cjk", "", 8)
        self.set_text_color(*MUTED)
        self.set_xy(self.l_margin, 9)
        self.cell(self.epw / 2, 5, f"{self.catalogue.title} · {self.catalogue.date_text}")
        self.cell(self.epw / 2, 5, self.group_name, align="R")
        self.set_draw_color(*LINE)
        self.set_line_width(0.2)
        self.line(self.l_margin, 14.5, self.w - self.r_margin, 14.5)
        self.set_y(self.t_margin)

    def footer(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("cjk", "", 8)
        self.set_text_color(*MUTED)
        self.set_xy(self.l_margin, self.h - 11)
        self.cell(self.epw, 5, self.catalogue.label("page_of", n=self.page_no(), total="{nb}"), align="C")


def _cover(pdf: CataloguePDF) -> None:
    """Title band, the figures in boxes, the notes; the group table is drawn last (it holds page numbers)."""
    c = pdf.catalogue
    f = c.figures()
    pdf.add_page()
    pdf.set_fill_color(*BRAND)
    pdf.rect(0, 0, pdf.w, 78, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("cjk", "B", 30 if c.lang == "zh" else 22)
    pdf.set_xy(MARGIN, 26)
    pdf.cell(pdf.epw, 14, c.title)
    pdf.set_font("cjk", "", 12)
    pdf.set_xy(MARGIN, 44)
    pdf.cell(pdf.epw, 7, c.subtitle)
    pdf.set_xy(MARGIN, 56)
    pdf.cell(pdf.epw, 7, c.field("date") + c.date_text)
    boxes = [("published", str(f["published"])), ("budget_total", c.budget_total()),
             ("negotiable_count", str(f["negotiable"])), ("withheld", str(f["withheld"]))]
    width = (pdf.epw - 3 * 4) / 4
    for n, (key, value) in enumerate(boxes):
        x = MARGIN + n * (width + 4)
        pdf.set_fill_color(*PALE)
        pdf.rect(x, 90, width, 26, style="F")
        pdf.set_fill_color(*BRAND)
        pdf.rect(x, 90, 1.2, 26, style="F")
        pdf.set_text_color(*MUTED)
        pdf.set_font("cjk", "", 9)
        pdf.set_xy(x + 4, 93)
        pdf.cell(width - 6, 5, c.label(key))
        pdf.set_text_color(*BRAND)
        size = 17.0
        pdf.set_font("cjk", "B", size)
        while size > 8 and pdf.get_string_width(value) > width - 6:  # a long amount shrinks to fit its box
            size -= 0.5
            pdf.set_font("cjk", "B", size)
        pdf.set_xy(x + 4, 101)
        pdf.cell(width - 6, 10, value)
    notes = [c.label("withheld_note", n=f["withheld"])] if f["withheld"] else []
    if not c.base_url:
        notes.append(c.label("relative_note"))
    y = 122.0
    for note in notes:
        y = Layout(pdf, True).text(MARGIN, y, pdf.epw, note, 8.5, 4.6, color=MUTED)
    pdf.set_xy(MARGIN, y + 5)
    pdf.set_text_color(*INK)
    pdf.set_font("cjk", "B", 13)
    pdf.cell(pdf.epw, 8, f"{c.label('groups_' + c.by)} · {c.label('toc')}")
    pdf.set_y(y + 15)
    if not c.groups:
        pdf.set_font("cjk", "", 10)
        pdf.cell(pdf.epw, 8, c.label("none"))
        return
    pdf.insert_toc_placeholder(lambda _doc, outline: _group_table(pdf, outline), pages=1)


def _group_table(pdf: CataloguePDF, outline: list[Any]) -> None:
    """Each group with its needs, budget and first page: one column, or two when the groups are many."""
    c = pdf.catalogue
    pages = [s.page_number for s in outline]
    rows = [(g.name, str(len(g.entries)), c.money(g.budget), str(p)) for g, p in zip(c.groups, pages)]
    top, bottom = pdf.y, pdf.h - 16
    two = len(rows) > int((bottom - top) / 6.5) - 1
    per_column = (len(rows) + 1) // 2 if two else len(rows)
    height = min(6.5, (bottom - top) / (per_column + 1))
    gap = 6.0
    width = (pdf.epw - gap) / 2 if two else pdf.epw
    head = [c.label("groups_" + c.by), c.label("count")] + ([] if two else [c.label("budget")]) + [c.label("page")]
    spans = [0.62, 0.18, 0.20] if two else [0.46, 0.14, 0.26, 0.14]
    for column in range(2 if two else 1):
        x0, y = MARGIN + column * (width + gap), top
        for n, values in enumerate([head, *[r[:2] + r[3:] if two else r for r in
                                            rows[column * per_column:(column + 1) * per_column]]]):
            if n == 0:
                pdf.set_fill_color(*BRAND)
                pdf.set_text_color(255, 255, 255)
                pdf.set_font("cjk", "B", 9)
            else:
                pdf.set_fill_color(*(PALE if n % 2 == 0 else (255, 255, 255)))
                pdf.set_text_color(*INK)
                pdf.set_font("cjk", "", 9.5)
            pdf.rect(x0, y, width, height, style="F")
            x = x0
            for k, (value, span) in enumerate(zip(values, spans)):
                pdf.set_xy(x + 2, y)
                pdf.cell(width * span - 4, height, value, align="L" if k == 0 else "R")
                x += width * span
            y += height


def _fields(c: NeedsCatalogue, e: Entry) -> list[tuple[tuple[str, str], ...]]:
    """The field rows of a block: pairs side by side, then whole-width rows."""
    rows: list[tuple[tuple[str, str], ...]] = [
        (("org", e.org), ("district", c.district(e))), (("cluster", c.cluster(e)), ("budget", c.money(e.budget))),
        (("deadline", c.deadline(e)), ("maturity", c.maturity(e))), (("modes", c.modes(e)),),
        (("keywords", c.keywords(e)),), (("contact", e.contact),)]
    if e.is_challenge and e.reward is not None:
        rows.append((("reward", c.money(e.reward)),))
    return rows


def _short(c: NeedsCatalogue, text: str) -> str:
    return text if len(text) <= LONG else text[:LONG].rstrip() + c.label("more")


def _block(pdf: CataloguePDF, e: Entry, number: int, y0: float, draw: bool) -> float:
    """One need from y0: title (with a 揭榜挂帅 badge), fields beside its QR code, description, link; the y below
    it (measured from 0 without drawing: its height)."""
    c = pdf.catalogue
    lay = Layout(pdf, draw)
    area = pdf.epw - QR - GAP
    label_w = 18.0 if c.lang == "zh" else 27.0
    pdf.set_font("cjk", "B", 11.5)
    prefix = f"{number}. "
    indent = pdf.get_string_width(prefix)
    badge = c.label("challenge") if e.is_challenge else ""
    if badge:
        indent += 0.8
        pdf.set_font("cjk", "", 8)
        badge_w = pdf.get_string_width(badge) + 3
        if draw:
            pdf.set_fill_color(*RED)
            pdf.rect(MARGIN + indent, y0 + 1, badge_w, 4.6, style="F")
            pdf.set_text_color(255, 255, 255)
            pdf.set_xy(MARGIN + indent, y0 + 1)
            pdf.cell(badge_w, 4.6, badge, align="C")
        indent += badge_w + 1.5
    if draw:
        pdf.set_font("cjk", "B", 11.5)
        pdf.set_text_color(*MUTED)
        pdf.set_xy(MARGIN, y0)
        pdf.cell(indent, 6.6, prefix)
    y = lay.text(MARGIN, y0, area, e.title, 11.5, 6.6, "B", BRAND, indent) + 1.2
    column = (area - 4) / 2
    for row in _fields(c, e):
        bottoms = []
        for k, (key, value) in enumerate(row):
            x = MARGIN + k * (column + 4)
            width = column if len(row) == 2 else area
            if draw:
                pdf.set_font("cjk", "", 8.5)
                pdf.set_text_color(*MUTED)
                pdf.set_xy(x, y)
                pdf.cell(label_w, 4.9, c.label(key))
            bottoms.append(lay.text(x + label_w, y, width - label_w, value or "—", 9, 4.9))
        y = max(bottoms)
    if draw:
        _qr(pdf, e.link, pdf.w - MARGIN - QR, y0 + 0.5)
        pdf.set_font("cjk", "", 6.5)
        pdf.set_text_color(*MUTED)
        pdf.set_xy(pdf.w - MARGIN - QR, y0 + QR + 0.5)
        pdf.cell(QR, 3.5, c.label("scan"), align="C")
    y = max(y, y0 + QR + 4.5) + 1.5
    texts = [("description", e.description)]
    if e.is_challenge:
        texts += [("goal", e.challenge_goal), ("indicators", e.challenge_indicators)]
    for key, value in texts:
        if not value:
            continue
        head = c.field(key)
        pdf.set_font("cjk", "B", 9)
        width = pdf.get_string_width(head)
        if draw:
            pdf.set_text_color(*INK)
            pdf.set_xy(MARGIN, y)
            pdf.cell(width, 5.2, head)
        y = lay.text(MARGIN, y, pdf.epw, _short(c, value), 9.5, 5.2, indent=width) + 0.8
    y = lay.text(MARGIN, y, pdf.epw, c.field("link") + e.link, 7.5, 4.2, color=MUTED) + 3
    if draw:
        pdf.set_draw_color(*LINE)
        pdf.set_line_width(0.2)
        pdf.line(MARGIN, y, pdf.w - MARGIN, y)
    return y + 3


def _qr(pdf: CataloguePDF, link: str, x: float, y: float) -> None:
    """The QR code of `link` as filled rectangles, one per run of dark modules (no image library needed)."""
    size, runs = qr_runs(link)
    module = QR / size
    pdf.set_fill_color(0, 0, 0)
    for row, col, length in runs:
        pdf.rect(x + col * module, y + row * module, length * module + 0.01, module + 0.01, style="F")


def _group_header(pdf: CataloguePDF, name: str, count: int, y: float) -> float:
    """A group's band (name, count) and its bookmark; the y below it."""
    pdf.set_y(y)
    pdf.start_section(name)
    pdf.set_fill_color(*BRAND)
    pdf.rect(MARGIN, y, pdf.epw, 9, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("cjk", "B", 12.5)
    pdf.set_xy(MARGIN + 3, y)
    pdf.cell(pdf.epw - 30, 9, name)
    pdf.set_font("cjk", "", 9.5)
    pdf.set_xy(pdf.w - MARGIN - 30, y)
    pdf.cell(27, 9, pdf.catalogue.label("items", n=count), align="R")
    return y + 13


def render_pdf(catalogue: NeedsCatalogue, font: CjkFont | str | Path | None = None) -> bytes:
    """The PDF: cover (figures, groups with their pages), then every group's needs, page numbers below."""
    if not isinstance(font, CjkFont):
        font = find_cjk_font(font)
    pdf = CataloguePDF(catalogue, font)
    pdf.group_name = catalogue.groups[0].name if catalogue.groups else ""  # the header of the page after the cover
    _cover(pdf)
    number = 0
    for group in catalogue.groups:
        pdf.group_name = group.name
        y = pdf.y
        first = _block(pdf, group.entries[0], number + 1, 0.0, False) if group.entries else 0.0
        if y > pdf.t_margin + 1 and y + 13 + first > pdf.page_break_trigger:  # the header stays with a need
            pdf.add_page()
            y = pdf.y
        y = _group_header(pdf, group.name, len(group.entries), y)
        for e in group.entries:
            number += 1
            height = _block(pdf, e, number, 0.0, False)
            if y + height > pdf.page_break_trigger and y > pdf.t_margin + 14:
                pdf.add_page()
                y = pdf.y
            y = _block(pdf, e, number, y, True)
        pdf.set_y(y + 2)
    return bytes(pdf.output())
