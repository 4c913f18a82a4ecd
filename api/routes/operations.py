"""Operator endpoints: batch matching, imports, exports and the figures."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response

from matcher.catalogue.export import EXPORTABLE, to_csv, to_jsonl
from matcher.catalogue.importer import KINDS, detect_format
from matcher.errors import Invalid
from matcher.ingest.template import template_xlsx

from ..deps import Admin, Broker, Id, ServiceDep
from ..schemas import BatchCreate, BatchPublic, ImportReportPublic, Page

batch = APIRouter(prefix="/batch-runs", tags=["operations"])
imports = APIRouter(prefix="/imports", tags=["operations"])
exports = APIRouter(prefix="/exports", tags=["operations"])
figures = APIRouter(prefix="/figures", tags=["operations"])
log = logging.getLogger("techmatch.api")


@batch.post("", response_model=BatchPublic, status_code=202)
def start_batch(body: BatchCreate, service: ServiceDep, who: Admin) -> Any:
    """Compute candidates for every open need in the background; poll GET /batch-runs/{id} for progress."""
    ticket = service.batches.start(body.top_k, body.method, who.actor)  # 409 while any process runs one

    def work() -> None:
        try:
            service.batches.run(ticket)
        except Exception:  # recorded on the run row
            log.exception("batch run %s failed", ticket.run_id)

    threading.Thread(target=work, name=f"batch-{ticket.run_id}", daemon=True).start()
    return service.batches.get_run(ticket.run_id)


@batch.get("", response_model=Page[BatchPublic])
def list_batches(service: ServiceDep, who: Broker, limit: Annotated[int, Query(ge=1, le=200)] = 20,
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Any:
    rows, total = service.batches.list_runs(limit, offset)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


@batch.get("/{run_id:id}", response_model=BatchPublic)
def get_batch(run_id: Id, service: ServiceDep, who: Broker) -> Any:
    return service.batches.get_run(run_id)


@imports.post("", response_model=ImportReportPublic, status_code=201)
async def import_file(request: Request, service: ServiceDep, who: Admin,
                      kind: Annotated[Literal["needs", "results", "organisations"], Query()],
                      file: Annotated[UploadFile, File(description="A .csv, .jsonl or .xlsx file.")],
                      strict: bool = False, skip_duplicates: bool = False) -> Any:
    """Import listings; the report gives each rejected row's number, field and reason, and each row that copies a
    listing already in the catalogue or an earlier row (left out with skip_duplicates). A file beyond the import
    limits (rows, a workbook's uncompressed size: TECHMATCH_IMPORT_MAX_*) is refused with 413 before any work; an
    import whose client disconnects stops and writes nothing."""
    assert kind in KINDS
    fmt = detect_format(file.filename or "")
    data = await file.read(service.settings.max_upload_bytes + 1)
    if len(data) > service.settings.max_upload_bytes:
        raise HTTPException(413, f"the file is over {service.settings.max_upload_bytes} bytes")
    gone = threading.Event()

    async def watch() -> None:  # the import runs in a worker thread; this notices a client that went away
        while not gone.is_set():
            if await request.is_disconnected():
                log.info("import by %s cancelled: the client disconnected", who.actor)
                gone.set()
                return
            await anyio.sleep(0.25)

    def work() -> Any:
        return service.importer.import_bytes(data, kind, fmt, actor=who.actor, strict=strict,
                                             source=file.filename or "",
                                             skip_duplicates=skip_duplicates, cancelled=gone.is_set)

    outcome: dict[str, Any] = {}
    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            outcome["report"] = await anyio.to_thread.run_sync(work)
        except Exception as exc:  # raised below, outside the task group (which would wrap it in a group)
            outcome["error"] = exc
        group.cancel_scope.cancel()  # the watcher's job is done
    if "error" in outcome:
        raise outcome["error"]
    return outcome["report"].to_dict()


@imports.get("/template", response_class=Response, responses={200: {"content": {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def import_template(service: ServiceDep, kind: Annotated[Literal["needs", "results"], Query()] = "needs") -> Response:
    """An XLSX template for importing needs or results: the columns the importer reads, an example row, and the
    vocabularies (clusters, districts, modes, maturity, IP types) as drop-down lists."""
    return Response(template_xlsx(kind, service.vocab),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="techmatch-{kind}-template.xlsx"'})


@exports.get("/catalogue", response_class=Response,
             responses={200: {"content": {
    "application/pdf": {}, "text/html": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def needs_catalogue(service: ServiceDep, who: Broker,
                    by: Annotated[Literal["industry", "district"], Query(description="Group by cluster or district.")
                                  ] = "industry",
                    format: Annotated[Literal["pdf", "html", "xlsx"], Query(description=(
                        "pdf (printable, CJK font), html (one page) or xlsx (re-importable)."))] = "pdf",
                    lang: Annotated[Literal["zh", "en"], Query()] = "zh") -> Response:
    """The published needs catalogue (需求目录): open public needs grouped and sorted, each with a QR code of its
    link (TECHMATCH_PUBLIC_URL); confidential needs are left out."""

    data = service.publishing.publish(by, format, lang=lang)
    media = {"pdf": "application/pdf", "html": "text/html; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format]
    name = f"needs-catalogue-{by}.{format}"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FileFormat = Annotated[Literal["xlsx", "csv"], Query(description="xlsx (Excel) or csv (UTF-8 with BOM).")]
Lang = Annotated[Literal["zh", "en"], Query(description="Language of the headers and labels.")]


def _file(data: bytes, fmt: str, name: str) -> Response:
    media = XLSX if fmt == "xlsx" else "text/csv; charset=utf-8"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@exports.get("/decisions", response_class=Response, responses={200: {"content": {XLSX: {}, "text/csv": {}}}})
def decisions_export(service: ServiceDep, who: Broker, format: FileFormat = "xlsx", lang: Lang = "zh",
                     day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-12-07"],
                                                      description="The day (Beijing time, YYYY-MM-DD); today by "
                                                                  "default.")] = None) -> Response:
    """The decisions brokers took on a day: when, who, confirm / reject (with the reason) / undo, the note, the
    pair's titles, organisations and confidence."""

    try:
        date = dt.date.fromisoformat(day) if day else None
    except ValueError:
        raise Invalid(f"day {day!r} is not a date: give it as YYYY-MM-DD") from None
    return _file(service.exports.decisions_file(date, format, lang), format, f"decisions-{day or 'today'}")


@exports.get("/pipeline", response_class=Response, responses={200: {"content": {XLSX: {}, "text/csv": {}}}})
def pipeline_export(service: ServiceDep, who: Broker, format: FileFormat = "xlsx", lang: Lang = "zh") -> Response:
    """Every pairing with its stage, both parties and their contacts, the next action and its date, the contract
    value and the notes."""

    return _file(service.exports.pipeline_file(format, lang), format, "pipeline")


@exports.get("/{table}", response_class=Response,
             responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}})
def export(table: Literal[EXPORTABLE], service: ServiceDep, who: Broker,  # type: ignore[valid-type]
           format: Literal["csv", "jsonl"] = "jsonl") -> Response:
    """A whole table as CSV or JSONL (brokers and admins, who may read confidential needs)."""
    rows, columns = service.tables.table_rows(table)
    if table == "needs":
        rows = [service.catalogue.view("needs", r, who) for r in rows]
        columns = list(rows[0]) if rows else [*columns, "redacted"]
    if format == "jsonl":
        return Response(to_jsonl(rows), media_type="application/x-ndjson")
    return Response(to_csv(rows, columns), media_type="text/csv; charset=utf-8")


@figures.get("", response_model=dict[str, Any])
def get_figures(service: ServiceDep, who: Broker) -> Any:
    """Needs posted / matched / solved, pairings, contracts and value, by district, cluster and month."""
    return service.figures.figures()
