"""Import of needs, results and organisations from CSV, JSONL and Excel, with a validation report.

Valid rows are committed in one transaction and indexed; rejected rows are reported by row number, field and
reason. An error while writing (disk, encoder) rolls the whole import back: a failed import changes nothing.

A file is read within limits (`ImportLimits`, from the settings): more rows than allowed, or a workbook that
unzips beyond its size limit, refuses the whole file (TooLarge, 413) before anything is validated or encoded; a
cell longer than allowed or a JSON line nested too deep rejects its row; an import whose caller has gone
(`cancelled`) stops between steps, having written nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from matcher.catalogue.service import Catalogue
from matcher.errors import Cancelled, Invalid, TooLarge
from matcher.ingest import normalize as nz
from matcher.ingest.schemas import NeedIn, OrgIn, ResultIn, vocab
from matcher.settings import Settings

if TYPE_CHECKING:
    from matcher.progress import Progress

KINDS = ("needs", "results", "organisations")
FORMATS = ("csv", "jsonl", "xlsx")

# column names seen on real platforms and in Chinese spreadsheets → our field names
COMMON_ALIASES = {
    "id": "ref", "编号": "ref", "外部编号": "ref", "ref": "ref",
    "title": "title", "标题": "title", "名称": "title", "需求名称": "title", "成果名称": "title",
    "industry": "industry", "行业": "industry", "所属行业": "industry", "产业集群": "industry", "行业领域": "industry",
    "district": "district", "区县": "district", "所在区县": "district", "地区": "district",
    "keywords": "keywords", "关键词": "keywords",
    "contact": "contact", "联系方式": "contact", "联系人": "contact",
    "posted_at": "posted_at", "post_date": "posted_at", "发布日期": "posted_at", "发布时间": "posted_at",
    "org": "org", "organisation": "org", "organization": "org", "单位": "org",
    "status": "status", "状态": "status",
}
NEED_ALIASES = {
    **COMMON_ALIASES,
    "description": "description", "content": "description", "需求描述": "description", "描述": "description",
    "需求内容": "description",
    "coop_modes": "coop_modes", "cooperation": "coop_modes", "合作方式": "coop_modes",
    "budget": "budget", "预算": "budget", "资金预算": "budget", "拟投入资金": "budget",
    "deadline": "deadline", "截止日期": "deadline", "valid_period": "valid_period", "有效期": "valid_period",
    "wanted_maturity": "wanted_maturity", "maturity": "wanted_maturity", "成熟度要求": "wanted_maturity",
    "wanted_trl_min": "wanted_trl_min", "wanted_trl_max": "wanted_trl_max",
    "confidentiality": "confidentiality", "保密": "confidentiality", "公开程度": "confidentiality",
    "budget_negotiable": "budget_negotiable",
    "is_challenge": "is_challenge", "揭榜挂帅": "is_challenge", "reward": "reward", "奖励": "reward",
    "challenge_goal": "challenge_goal", "榜单目标": "challenge_goal",
    "challenge_indicators": "challenge_indicators", "考核指标": "challenge_indicators",
    "企业": "org", "需求单位": "org", "firm": "org",
}
RESULT_ALIASES = {
    **COMMON_ALIASES,
    "abstract": "abstract", "description": "abstract", "成果简介": "abstract", "简介": "abstract",
    "title_text": "title",
    "team": "team", "团队": "team", "institution": "org", "完成单位": "org", "成果单位": "org",
    "maturity": "maturity", "成熟度": "maturity", "技术成熟度": "maturity", "trl": "trl",
    "maturity_label": "maturity",
    "ip_type": "ip_type", "patent_info": "ip_type", "知识产权类型": "ip_type", "专利类型": "ip_type",
    "patent_no": "patent_no", "专利号": "patent_no",
    "transfer_modes": "transfer_modes", "cooperation": "transfer_modes", "合作方式": "transfer_modes",
    "转化方式": "transfer_modes",
    "price": "price", "价格": "price", "转让价格": "price", "price_negotiable": "price_negotiable",
    "application_fields": "application_fields", "scope": "application_fields", "应用领域": "application_fields",
}
ORG_ALIASES = {
    "name": "name", "名称": "name", "单位名称": "name", "kind": "kind", "类型": "kind",
    "district": "district", "区县": "district", "industry": "industry", "行业": "industry",
    "contact": "contact", "联系方式": "contact", "description": "description", "简介": "description",
}
# industry fallbacks when a file has no usable industry column (lenient: unknown → 其他)
INDUSTRY_FALLBACKS = ("nat_econ_class", "nat_econ_section", "industry_l1", "国民经济行业")
ALIASES = {"needs": NEED_ALIASES, "results": RESULT_ALIASES, "organisations": ORG_ALIASES}
MODELS = {"needs": NeedIn, "results": ResultIn, "organisations": OrgIn}


@dataclass
class Rejection:
    """One rejected row: its number as the file shows it (the spreadsheet row, header = 1, for XLSX and CSV; the
    line for JSONL), the field and the reason."""

    row: int
    field: str
    reason: str


DUPLICATE_CHECK_MAX = 20_000  # rows an import checks for copies (each row: one search of its side's index)


@dataclass
class ImportReport:
    """What an import did."""

    kind: str
    source: str
    accepted: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    warnings: list[Rejection] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # rows that copy a listing or an earlier row
    skipped: int = 0  # duplicate rows left out (skip_duplicates)
    ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("ids")
        out["rejected_rows"] = len({r.row for r in self.rejected})
        return out


@dataclass(frozen=True)
class ImportLimits:
    """How much one import may hold (see the settings `import_max_*`)."""

    rows: int = 100_000
    uncompressed: int = 100_000_000  # bytes an XLSX workbook may unzip to
    field_chars: int = 50_000  # characters of one cell or JSON value
    depth: int = 20  # nesting of one JSON line (or of the items of a JSON array)

    @classmethod
    def of(cls, settings: Any) -> ImportLimits:
        return cls(settings.import_max_rows, settings.import_max_uncompressed_bytes, settings.import_max_field_chars,
                   settings.import_max_depth)


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_OPEN, _CLOSE = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def json_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest (strings aside), without parsing it: a line nested 100,000 deep is
    refused before the parser recurses into it."""
    raw = np.frombuffer(_JSON_STRING.sub('""', text).encode("utf-8"), np.uint8)
    steps = np.isin(raw, _OPEN).astype(np.int32) - np.isin(raw, _CLOSE).astype(np.int32)
    return int(np.cumsum(steps).max()) if len(steps) else 0


def _too_many(count: int, limits: ImportLimits) -> TooLarge:
    return TooLarge(f"the file holds more than {limits.rows:,} rows ({count:,} or more); import it in parts, or raise "
                    "TECHMATCH_IMPORT_MAX_ROWS")


def _long_value(row: dict[str, Any], limits: ImportLimits) -> str | None:
    """Why a row is refused for a value over the field limit (None: every value fits)."""
    for key, value in row.items():
        if isinstance(value, str) and len(value) > limits.field_chars:
            return (f"column {str(key)[:40]!r} holds {len(value):,} characters; at most {limits.field_chars:,} are "
                    "read (TECHMATCH_IMPORT_MAX_FIELD_CHARS)")
    return None


def _decode(data: bytes) -> str:
    """A text file's characters: UTF-8 (with or without BOM), UTF-16 with its BOM, or GB18030."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise Invalid("the file starts like UTF-16 text but is not valid UTF-16") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise Invalid("the file is neither UTF-8 nor GB18030 text") from None


def detect_format(name: str) -> str:
    """The format a file name implies (csv, jsonl, xlsx)."""
    suffix = Path(name).suffix.lower().lstrip(".")
    fmt = {"json": "jsonl", "ndjson": "jsonl", "xls": "xlsx", "tsv": "csv"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise Invalid(f"cannot tell the format of {name!r}: use a .csv, .jsonl or .xlsx file")
    return fmt


def read_rows(data: bytes, fmt: str, limits: ImportLimits = ImportLimits()
              ) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(row number, row, parse error) for each data row of a file's bytes; the number is the one the file shows:
    the spreadsheet row for XLSX and CSV (the header is row 1), the line for JSONL (the item for a JSON array).
    TooLarge (before any row) for a file beyond `limits`."""
    if fmt == "xlsx":
        yield from _xlsx_rows(data, limits)
        return
    text = _decode(data)
    if fmt == "jsonl":
        yield from _json_rows(text, limits)
        return
    yield from _csv_rows(text, limits)


def _xlsx_rows(data: bytes, limits: ImportLimits) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(item.file_size for item in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise Invalid(f"not a readable .xlsx workbook ({type(exc).__name__})") from None
    if unzipped > limits.uncompressed:
        raise TooLarge(f"the workbook unzips to {unzipped:,} bytes; at most {limits.uncompressed:,} are read "
                       "(TECHMATCH_IMPORT_MAX_UNCOMPRESSED_BYTES)")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:
        raise Invalid(f"not a readable .xlsx workbook ({type(exc).__name__})") from None
    sheet = book.worksheets[0]
    declared = sheet.max_row  # the sheet's own dimension, when it states one: refused before reading a row
    if declared is not None and declared - 1 > limits.rows:
        raise _too_many(declared - 1, limits)
    rows = sheet.iter_rows(values_only=True)
    raw_rows = formulas.worksheets[0].iter_rows(values_only=True)
    header = next(rows, None)
    next(raw_rows, None)
    if header is None:
        return
    names = [str(h).strip() if h is not None else "" for h in header]
    count = 0
    for n, (values, raw) in enumerate(zip(rows, raw_rows), start=2):  # the sheet's own row numbers
        if values is None or all(v is None for v in values):
            continue
        count += 1
        if count > limits.rows:
            raise _too_many(count, limits)
        # a formula cell's value is whatever the last spreadsheet program computed, or nothing: refuse it
        cells = [(k, v) for k, v in zip(names, raw or ()) if k and isinstance(v, str) and v.startswith("=")]
        if cells:
            name, formula = cells[0]
            yield n, None, (f"column {name!r} holds a formula ({formula[:40]}); paste the sheet as values "
                            "and import again")
            continue
        row = {k: v for k, v in zip(names, values) if k}
        yield n, None if (long := _long_value(row, limits)) else row, long


def _json_item(n: int, text: str, limits: ImportLimits) -> tuple[int, dict[str, Any] | None, str | None]:
    """One JSON line (or array item) parsed within the limits."""
    if json_depth(text) > limits.depth:
        return n, None, f"nested deeper than {limits.depth} levels (TECHMATCH_IMPORT_MAX_DEPTH)"
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        return n, None, f"invalid JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return n, None, f"nested deeper than {limits.depth} levels (TECHMATCH_IMPORT_MAX_DEPTH)"
    if not isinstance(item, dict):
        return n, None, "not a JSON object"
    long = _long_value(item, limits)
    return (n, None, long) if long else (n, item, None)


def _json_rows(text: str, limits: ImportLimits) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        if json_depth(stripped) > limits.depth + 1:  # the array itself is one level
            raise Invalid(f"the JSON array nests deeper than {limits.depth} levels (TECHMATCH_IMPORT_MAX_DEPTH)")
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise Invalid(f"invalid JSON array: {exc}") from None
        if not isinstance(items, list):
            raise Invalid("a JSON file holds one object per line, or one array of objects")
        if len(items) > limits.rows:
            raise _too_many(len(items), limits)
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                yield n, None, "not a JSON object"
                continue
            long = _long_value(item, limits)
            yield (n, None, long) if long else (n, item, None)
        return
    lines = text.splitlines()
    count = sum(1 for line in lines if line.strip())
    if count > limits.rows:
        raise _too_many(count, limits)
    for n, line in enumerate(lines, start=1):
        if line.strip():
            yield _json_item(n, line, limits)


def _csv_rows(text: str, limits: ImportLimits) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    # the parser's own field limit above ours, so a long cell rejects its row instead of stopping the file
    csv.field_size_limit(max(csv.field_size_limit(), 4 * limits.field_chars + 1))
    dialect = "excel-tab" if text[:4096].count("\t") > text[:4096].count(",") else "excel"
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    count = 0
    try:
        for row in reader:
            n = reader.line_num  # the row as a spreadsheet opening the file numbers it (header = 1)
            if None in row:
                yield n, None, f"{len(row[None])} more values than there are columns"
                continue
            if all(nz.is_blank(v) for v in row.values()):
                continue
            count += 1
            if count > limits.rows:
                raise _too_many(count, limits)
            row = {k.strip(): v for k, v in row.items() if k}
            yield n, None if (long := _long_value(row, limits)) else row, long
    except csv.Error as exc:
        raise TooLarge(f"row {reader.line_num}: {exc}; cells may hold at most {limits.field_chars:,} characters "
                       "(TECHMATCH_IMPORT_MAX_FIELD_CHARS)") from None


TEXT_FIELDS = {"title", "description", "abstract", "contact", "team", "patent_no", "application_fields",
               "challenge_goal", "challenge_indicators", "org", "ref", "name"}


def _alias(kind: str, key: Any) -> str:
    """Our field name for a column name (the column itself when unknown)."""
    aliases = ALIASES[kind]
    return aliases.get(key) or aliases.get(str(key).strip().lower()) or str(key)


def map_row(kind: str, raw: dict[str, Any], ignored: set[str], warnings: list[str]) -> dict[str, Any]:
    """A raw row with its columns renamed to our fields; unknown columns are collected in `ignored`.

    Platform industries outside the taxonomy are filed under 其他 with a warning rather than rejected.
    """
    aliases = ALIASES[kind]
    out: dict[str, Any] = {}
    fallback = None
    for key, value in raw.items():
        name = aliases.get(key) or aliases.get(str(key).strip().lower())
        if name is None:
            if key in INDUSTRY_FALLBACKS:
                if not nz.is_blank(value) and fallback is None:
                    fallback = value
            else:
                ignored.add(str(key))
            continue
        if nz.is_blank(value) and name in out:
            continue
        out[name] = value
    if kind == "needs" and "valid_period" in out:
        _, end = nz.parse_period(out.pop("valid_period"))
        if end and nz.is_blank(out.get("deadline")):
            out["deadline"] = end
    if kind != "organisations":
        given = out.get("industry")
        code = vocab().industry(nz.clean_text(given)) if not nz.is_blank(given) else None
        if code is None and fallback:
            code = vocab().industry(nz.clean_text(fallback))
        if code is None and not nz.is_blank(given):
            warnings.append(f"industry {nz.clean_text(given)!r} is not in the taxonomy; filed under 其他")
        out["industry"] = code or "other"
    body = out.get("description") if kind == "needs" else out.get("abstract")
    if kind != "organisations" and nz.is_blank(out.get("title")) and not nz.is_blank(body):
        # real listings sometimes carry text but no title: use the start of the first sentence
        first = nz.clean_text(body).split("。")[0]
        out["title"] = first[:40] + ("…" if len(first) > 40 else "")
    if kind == "results" and "trl" in out and nz.is_blank(out["trl"]):
        out.pop("trl")
    return {k: (None if nz.is_blank(v) else v) for k, v in out.items()}


def validate(kind: str, data: bytes, fmt: str, limits: ImportLimits = ImportLimits(),
             check: Callable[[], None] | None = None) -> tuple[list[tuple[int, Any]], ImportReport]:
    """Parse and validate every row: (valid models with row numbers, report of rejections). `check` is called every
    few hundred rows (it raises to stop the work)."""
    report = ImportReport(kind=kind, source=fmt)
    ignored: set[str] = set()
    model = MODELS[kind]
    valid: list[tuple[int, Any]] = []
    seen_refs: dict[str, int] = {}
    for done, (n, raw, error) in enumerate(read_rows(data, fmt, limits)):
        if check is not None and done % 500 == 0:
            check()
        if error:
            report.rejected.append(Rejection(n, "", error))
            continue
        if fmt == "jsonl":  # JSON carries types: refuse what the API refuses (no 1 for a title)
            wrong = [k for k, v in raw.items() if _alias(kind, k) in TEXT_FIELDS and v is not None
                     and not isinstance(v, str)]
            if wrong:
                report.rejected.append(Rejection(n, _alias(kind, wrong[0]), "expected text, got "
                                                 f"{type(raw[wrong[0]]).__name__}: write it as a JSON string"))
                continue
        try:
            notes: list[str] = []
            mapped = map_row(kind, raw, ignored, notes)
            item = model.model_validate(mapped)
            report.warnings.extend(Rejection(n, "industry", w) for w in notes)
            report.warnings.extend(Rejection(n, f, w) for f, w in _changes(kind, raw, mapped, item))
            report.warnings.extend(
                Rejection(n, _alias(kind, k), "starts like a spreadsheet formula: kept as text (exports prefix an "
                                              "apostrophe so no spreadsheet runs it)")
                for k, v in raw.items() if isinstance(v, str) and v.strip().startswith(("=", "+", "@")))
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                msg = str(err["msg"]).removeprefix("Value error, ")
                if not loc:
                    head, sep, rest = msg.partition(": ")
                    loc, msg = (head, rest) if sep and " " not in head else ("row", msg)
                report.rejected.append(Rejection(n, loc, msg))
            continue
        except ValueError as exc:
            report.rejected.append(Rejection(n, "row", str(exc)))
            continue
        ref = getattr(item, "ref", None)
        if ref:
            if ref in seen_refs:
                report.rejected.append(Rejection(n, "ref", f"duplicate ref {ref!r} (also on row {seen_refs[ref]})"))
                continue
            seen_refs[ref] = n
        valid.append((n, item))
    report.ignored_columns = sorted(ignored)
    return valid, report


def _changes(kind: str, raw: dict[str, Any], mapped: dict[str, Any], item: Any) -> list[tuple[str, str]]:
    """(field, what happened) for each value the importer read differently from the file: a title taken from the
    text, a date rewritten. (An amount it cannot read is refused, never turned into 面议.)"""
    out = []
    titled = any(_alias(kind, k) == "title" and not nz.is_blank(v) for k, v in raw.items())
    if not titled and getattr(item, "title", ""):
        out.append(("title", f"no title: taken from the text as {item.title!r}"))
    for name in ("deadline", "posted_at"):
        given, read = mapped.get(name), getattr(item, name, None)
        if isinstance(given, str) and given.strip() and read and given.strip() != str(read):
            out.append((name, f"date {given.strip()!r} read as {read}"))
    return out


class Importer:
    """Files of listings or organisations into the catalogue: validated row by row, all or nothing."""

    def __init__(self, settings: Settings, catalogue: Catalogue) -> None:
        self.settings = settings
        self.catalogue = catalogue

    def import_bytes(self, data: bytes, kind: str, fmt: str, actor: str = "system",
                     strict: bool = False, progress: Progress | None = None, source: str = "", engine: Any = None,
                     skip_duplicates: bool = False, check_duplicates: bool = True,
                     cancelled: Callable[[], bool] | None = None) -> ImportReport:
        """Validate and import a file's bytes; with `strict`, any rejected row cancels the whole import. Rows that
        copy a listing already in the catalogue (a file imported twice) or an earlier row are reported as warnings,
        and left out with `skip_duplicates`. `engine` (matcher.bulk.get_engine) encodes the listings elsewhere, e.g.
        on Ray. A file beyond the settings' import limits is refused (TooLarge) before any work; when `cancelled()`
        turns true (the client went away) the work stops with Cancelled, having written nothing."""
        if kind not in KINDS:
            raise Invalid(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")

        def check() -> None:
            if cancelled is not None and cancelled():
                raise Cancelled("the import was stopped: its client went away before it finished; nothing was written")

        def step(done: int, total: int) -> None:
            check()
            if progress is not None:
                progress(done, total)

        valid, report = validate(kind, data, fmt, ImportLimits.of(self.settings), check)
        report.source = source or fmt
        if strict and report.rejected:
            return report
        if kind != "organisations" and check_duplicates and valid:
            if engine is None and len(valid) <= DUPLICATE_CHECK_MAX:
                valid = self._flag_duplicates(kind, valid, report, skip_duplicates, step)
            else:
                report.warnings.append(Rejection(0, "",
                                                 f"not checked for duplicates: a bulk import of {len(valid)} rows"
                                                 + (" on an engine" if engine is not None else "")))
        items = [item for _, item in valid]
        report.accepted = len(items)
        audit = ("import", kind, {"source": report.source, "accepted": report.accepted,
                                  "rejected_rows": len({r.row for r in report.rejected})})
        check()
        if kind == "organisations":
            report.ids, report.created = self.catalogue.upsert_orgs(items, actor, audit=audit)
            report.updated = len(items) - report.created
        else:
            known = {i.ref for i in items if i.ref and self.catalogue.find_by_ref(kind, i.ref)}
            report.ids = self.catalogue.add_listings(kind, items, actor, step, audit=audit,
                                                      # audit line in its transaction
                                                     engine=engine)
            report.updated = len(known)
            report.created = len(items) - len(known)
        return report

    def _flag_duplicates(self, kind: str, valid: list[tuple[int, Any]], report: ImportReport,
                         skip: bool, progress: Progress | None = None) -> list[tuple[int, Any]]:
        """Report each row that copies a listing or an earlier row (a `duplicates` entry with the reason); returns the
        rows to import (without those rows when `skip`)."""
        found = self.catalogue.draft_duplicates(kind, [item for _, item in valid], progress=progress)
        for pos, dup in sorted(found.items()):
            n = valid[pos][0]
            if dup.get("id") is not None:
                entry = {"row": n, "duplicate_of": dup["id"], "title": dup["title"], "similarity": dup["similarity"]}
                why = f"likely a copy of {kind[:-1]} #{dup['id']} «{dup['title']}» (similarity {dup['similarity']:.2f})"
            else:
                entry = {"row": n, "duplicate_of_row": valid[dup["row"]][0], "title": dup["title"]}
                why = f"repeats row {valid[dup['row']][0]} «{dup['title']}»"
            report.duplicates.append({**entry, "reason": why + ("; skipped" if skip else "")})
        if not skip:
            return valid
        report.skipped = len(found)
        return [v for pos, v in enumerate(valid) if pos not in found]

    def import_file(self, path: Path | str, kind: str, actor: str = "system", strict: bool = False,
                    progress: Progress | None = None, fmt: str | None = None, engine: Any = None,
                    skip_duplicates: bool = False, check_duplicates: bool = True) -> ImportReport:
        """Import a CSV, JSONL or XLSX file of needs, results or organisations (encoded on `engine` when given)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        return self.import_bytes(path.read_bytes(), kind, fmt or detect_format(path.name), actor, strict,
                                 progress, source=path.name, engine=engine, skip_duplicates=skip_duplicates,
                                 check_duplicates=check_duplicates)

    def load_folder(self, folder: Path, actor: str = "system",
                    progress: Progress | None = None, engine: Any = None) -> dict[str, int]:
        """Import every organisations*, needs* and results* .jsonl file of a folder (the demo catalogue), refusing a
        folder with any invalid row; returns the rows accepted per kind."""
        counts: dict[str, int] = {}
        for kind in ("organisations", "needs", "results"):
            for path in sorted(Path(folder).glob(f"{kind}*.jsonl")):
                # the demo catalogue holds relistings on purpose (the duplicate detector is measured on them)
                report = self.import_file(path, kind, actor=actor, progress=progress, engine=engine,
                                          check_duplicates=False)
                if report.rejected:
                    raise Invalid(f"{path.name} has invalid rows: {report.rejected[:3]}")
                counts[kind] = counts.get(kind, 0) + report.accepted
        return counts

    def load_demo(self, progress: Progress | None = None) -> dict[str, int]:
        """Load the demo catalogue shipped with the package (settings.demo_dir: organisations, needs, results)."""
        return self.load_folder(self.settings.demo_dir, actor="demo", progress=progress)
