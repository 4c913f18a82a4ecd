"""The catalogue as a workbook whose first sheet the importer reads back: the needs import template's columns
(names, not codes; 面议 for a negotiable budget), then 需求编号 and 链接, which the importer leaves aside."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from matcher.catalogue.export import safe_cell
from matcher.ingest.template import COLUMNS
from matcher.publish.content import Entry, NeedsCatalogue, maturity_level

EXTRA = [("需求编号", 10), ("链接", 36)]  # not import columns: reported as ignored, never a rejected row


def importable(catalogue: NeedsCatalogue, e: Entry) -> list[Any]:
    """A need as a row of the import template, in Chinese whatever the catalogue's language (the importer reads
    these names back to the same codes; the wanted TRL range as its maturity label when it is one, else 6-8)."""
    vocab = catalogue.vocab
    level = maturity_level(vocab, e)
    maturity = None if (e.trl_min, e.trl_max) == (1, 9) else (
        level.label if level else f"{e.trl_min}-{e.trl_max}")
    deadline = dt.date.fromisoformat(e.deadline) if e.deadline else None
    values = {"需求名称": e.title, "需求描述": e.description, "需求单位": e.org or None,
              "产业集群": vocab.industries.name(e.industry), "区县": e.district,
              "合作方式": "、".join(vocab.transfer_modes.name(m) for m in e.modes) or None,
              "预算": "面议" if e.budget is None else e.budget, "截止日期": deadline, "成熟度要求": maturity,
              "关键词": "、".join(e.keywords) or None, "联系人": e.contact or None}
    return [safe_cell(values[c[0]]) for c in COLUMNS["needs"]] + [e.id, safe_cell(e.link)]


def render_xlsx(catalogue: NeedsCatalogue) -> bytes:
    """The workbook: the needs (first sheet, importable), then a cover sheet with the figures."""
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = catalogue.label("sheet_needs")
    columns = [(c[0], c[1]) for c in COLUMNS["needs"]] + EXTRA
    sheet.append([c[0] for c in columns])
    for n, (_, width) in enumerate(columns, start=1):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(n)].width = width
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FFF2CC")
    top = Alignment(vertical="top", wrap_text=True)
    headers = [c[0] for c in columns]
    for e in catalogue.entries:
        sheet.append(importable(catalogue, e))
        row = sheet.max_row
        for cell in sheet[row]:
            cell.alignment = top
        sheet.cell(row, headers.index("截止日期") + 1).number_format = "yyyy-mm-dd"
        if e.budget is not None:
            sheet.cell(row, headers.index("预算") + 1).number_format = "0.##"
        if e.link.startswith(("http://", "https://")):
            sheet.cell(row, len(headers)).hyperlink = e.link
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = sheet.dimensions
    _cover(book.create_sheet(catalogue.label("sheet_cover")), catalogue)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _cover(sheet: Any, c: NeedsCatalogue) -> None:
    """The figures: title, date, needs published and withheld, budget, then the count per group."""
    from openpyxl.styles import Font

    f = c.figures()
    sheet.append([c.title])
    sheet["A1"].font = Font(bold=True, size=16)
    sheet.append([c.subtitle])
    sheet.append([c.label("date"), c.date.isoformat()])
    sheet.append([])
    sheet.append([c.label("open"), f["open"]])
    sheet.append([c.label("published"), f["published"]])
    sheet.append([c.label("withheld"), f["withheld"]])
    sheet.append([f'{c.label("budget_total")} · {c.label("budget_wan")}', f["budget_total"]])
    sheet.append([c.label("negotiable_count"), f["negotiable"]])
    sheet.append([])
    sheet.append([c.label(f"groups_{c.by}"), c.label("count"), c.label("budget_wan")])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for g in c.groups:
        sheet.append([g.name, len(g.entries), c.label("negotiable") if g.budget is None else g.budget])
    sheet.append([])
    if f["withheld"]:
        sheet.append([c.label("withheld_note", n=f["withheld"])])
    if not c.base_url:
        sheet.append([c.label("relative_note")])
    sheet.append([c.label("import_note")])
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 16
    sheet.column_dimensions["C"].width = 16
