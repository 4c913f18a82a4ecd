"""Export of any catalogue table to CSV or JSONL."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .store import TABLES

if TYPE_CHECKING:
    from .service import MatchService

EXPORTABLE = tuple(t for t in TABLES if t != "api_keys")


def export_table(service: MatchService, table: str, out: Path) -> int:
    """Write every row of `table` to `out` (.csv or .jsonl, by suffix); returns the row count."""
    if table not in EXPORTABLE:
        raise ValueError(f"cannot export {table!r}; choose one of {', '.join(EXPORTABLE)}")
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in {"csv", "jsonl"}:
        raise ValueError("the output file must end in .csv or .jsonl")
    rows = service.store.rows(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with out.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    else:
        columns = list(rows[0].keys()) if rows else list(service.store.db[table].columns_dict)
        with out.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for r in rows:
                writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
                                 for k, v in r.items()})
    return len(rows)
