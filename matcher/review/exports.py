"""A broker's files: the day's decisions and the pipeline, as XLSX (or CSV) with Chinese or English headers.

Times are Beijing time; cells that start like a formula are neutralised (as every export is)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from matcher.catalogue.export import safe_cell, to_csv
from matcher.errors import Invalid
from matcher.ingest.vocab import Vocab
from matcher.localtime import BEIJING, beijing, today
from matcher.store import Store

# column → (Chinese header, English header)
DECISION_COLUMNS = {
    "time": ("时间", "Time"), "actor": ("经纪人", "Broker"), "decision": ("决定", "Decision"),
    "reason": ("拒绝原因", "Reason"), "note": ("备注", "Note"), "candidate_id": ("候选对", "Pair"),
    "need_title": ("需求", "Need"), "need_org": ("需求方", "Need's organisation"),
    "result_title": ("成果", "Result"), "result_org": ("成果方", "Result's organisation"),
    "confidence": ("匹配把握", "Confidence"),
}
PIPELINE_COLUMNS = {
    "id": ("配对", "Pairing"), "stage": ("阶段", "Stage"), "need_title": ("需求", "Need"),
    "need_org": ("需求方", "Need's organisation"), "need_contact": ("需求方联系方式", "Need's contact"),
    "result_title": ("成果", "Result"), "result_org": ("成果方", "Result's organisation"),
    "result_contact": ("成果方联系方式", "Result's contact"), "next_action": ("下一步", "Next action"),
    "next_action_at": ("计划日期", "Due"), "contract_value": ("合同金额（万元）", "Contract value (CNY 10k)"),
    "notes": ("备注记录", "Notes"), "updated": ("最近更新", "Last change"),
}
DECISION_NAMES = {"confirm": ("确认对接", "confirmed"), "reject": ("拒绝", "rejected"), "undo": ("撤销", "undone")}
FORMATS = ("xlsx", "csv")


def _stamp(value: str | None) -> str:
    return beijing(value).strftime("%Y-%m-%d %H:%M") if value else ""


def write(rows: Sequence[dict[str, Any]], columns: dict[str, tuple[str, str]], fmt: str = "xlsx", lang: str = "zh",
          title: str = "") -> bytes:
    """Rows as an XLSX sheet (bold, frozen header; widths by content) or CSV (UTF-8 with BOM, for Excel)."""
    if fmt not in FORMATS:
        raise Invalid(f"unknown format {fmt!r}; use xlsx or csv")
    i = int(lang == "en")
    headers = [names[i] for names in columns.values()]
    if fmt == "csv":
        named = [{headers[n]: row.get(col) for n, col in enumerate(columns)} for row in rows]
        return ("\ufeff" + to_csv(named, headers)).encode("utf-8")
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = (title or "sheet")[:31]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([safe_cell(row.get(col)) for col in columns])
    for n, col in enumerate(columns, start=1):
        longest = max([len(str(headers[n - 1]))] + [len(str(r.get(col) or "")) for r in rows[:200]])
        sheet.column_dimensions[openpyxl.utils.get_column_letter(n)].width = min(60, max(8, longest * 1.6))
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class Exports:
    """Decisions and the pipeline as files for operators (CSV, XLSX)."""

    def __init__(self, store: Store, vocab: Vocab) -> None:
        self.store = store
        self.vocab = vocab

    def decision_rows(self, day: dt.date | None = None, lang: str = "zh") -> list[dict[str, Any]]:
        """The decisions taken on a day (Beijing time; today by default), oldest first, as the file lists them."""
        day = day or today()
        start = dt.datetime.combine(day, dt.time(), BEIJING).astimezone(dt.timezone.utc)
        rows = self.store.decisions_between(start.isoformat(), (start + dt.timedelta(days=1)).isoformat())
        reasons, i = self.vocab.reject_reasons, int(lang == "en")
        return [{"time": _stamp(r["created_at"]), "actor": r["actor"], "decision": DECISION_NAMES.get(
                    r["decision"], (r["decision"],) * 2)[i],
                 "reason": reasons.name(r["reason_code"],
                                        lang) if r.get("reason_code") else "", "note": r["note"] or "",
                 "candidate_id": r["candidate_id"], "need_title": r["need_title"], "need_org": r["need_org"] or "",
                 "result_title": r["result_title"], "result_org": r["result_org"] or "",
                 "confidence": round(float(r["confidence"]), 3) if r.get("confidence") is not None else None}
                for r in rows]

    def pipeline_rows(self, lang: str = "zh") -> list[dict[str, Any]]:
        """Every pairing, newest change first, with both parties' contacts and its next action, as the file lists
        them."""
        rows, _ = self.store.pairings([], 100_000, 0)
        stages = self.vocab.pairing_stages
        return [{"id": r["id"], "stage": stages.name(r["stage"], lang), "need_title": r["need_title"],
                 "need_org": r["need_org"] or "", "need_contact": r.get("need_contact") or "",
                 "result_title": r["result_title"], "result_org": r["result_org"] or "",
                 "result_contact": r.get("result_contact") or "", "next_action": r.get("next_action") or "",
                 "next_action_at": r.get("next_action_at") or "", "contract_value": r.get("contract_value"),
                 "notes": r.get("notes") or "", "updated": _stamp(r.get("updated_at"))} for r in rows]

    def decisions_file(self, day: dt.date | None = None, fmt: str = "xlsx", lang: str = "zh") -> bytes:
        """The day's decisions as a file."""
        title = "决定" if lang == "zh" else "decisions"
        return write(self.decision_rows(day, lang), DECISION_COLUMNS, fmt, lang, title)

    def pipeline_file(self, fmt: str = "xlsx", lang: str = "zh") -> bytes:
        """The pipeline as a file."""
        return write(self.pipeline_rows(lang), PIPELINE_COLUMNS, fmt, lang, "对接进度" if lang == "zh" else "pipeline")
