"""Export of any catalogue table to CSV or JSONL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from matcher.errors import Invalid
from matcher.store import TABLES, Store

EXPORTABLE = tuple(t for t in TABLES if t not in ("api_keys", "subscriptions"))  # no keys, secrets or tokens


def to_jsonl(rows: Iterable[dict[str, Any]]) -> str:
    """Rows as JSON lines (UTF-8 text, Chinese kept readable)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading apostrophe (OWASP CSV
    injection rule); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV; list and dict cells are written as JSON; formula-like text is neutralised (safe_cell)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns))
    writer.writeheader()
    for r in rows:
        writer.writerow({k: safe_cell(json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v)
                         for k, v in r.items()})
    return buf.getvalue()


class Tables:
    """Whole tables of the catalogue as JSONL or CSV."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def table_rows(self, table: str) -> tuple[list[dict[str, Any]], list[str]]:
        """Every row of an exportable table and its columns (in the table's order)."""
        if table not in EXPORTABLE:
            raise Invalid(f"cannot export {table!r}; choose one of {', '.join(EXPORTABLE)}")
        rows = self.store.rows(table)
        return rows, (list(rows[0]) if rows else sorted(self.store.columns(table)))

    def export_table(self, table: str, out: Path) -> int:
        """Write every row of `table` to `out` (.csv or .jsonl, by suffix); returns the row count."""
        if table not in EXPORTABLE:
            raise Invalid(f"cannot export {table!r}; choose one of {', '.join(EXPORTABLE)}")
        fmt = out.suffix.lower().lstrip(".")
        if fmt not in {"csv", "jsonl"}:
            raise Invalid("the output file must end in .csv or .jsonl")
        rows, columns = self.table_rows(table)
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "jsonl":
            out.write_text(to_jsonl(rows), encoding="utf-8")
        else:
            out.write_text(to_csv(rows, columns), encoding="utf-8-sig")
        return len(rows)
