"""One error shape for every failure: {"error": {"code", "message", "details", "request_id"}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from matcher.errors import TechmatchError
from matcher.retrieval.index import IndexMismatch

log = logging.getLogger("techmatch.api")


class ErrorDetail(BaseModel):
    """One problem with a request: where and why."""

    field: str
    reason: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []
    request_id: str | None = None


class ErrorResponse(BaseModel):
    """The body of every 4xx/5xx response."""

    error: ErrorBody


def error_response(request: Request, status: int, code: str, message: str,
                   details: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or [],
                      "request_id": getattr(request.state, "request_id", None)}}
    return JSONResponse(body, status_code=status, headers=headers)


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def _details(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for e in errors:
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if e.get("type") == "extra_forbidden":
            msg = "unknown field: remove it (see the schema in /docs)"
        elif e.get("type") == "json_invalid":
            msg = "the body is not valid JSON: " + str(e.get("ctx", {}).get("error", msg))
        out.append({"field": _loc(e.get("loc", ())), "reason": msg})
    return out


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              409: "conflict", 413: "body_too_large", 415: "unsupported_media_type", 422: "validation_error",
              429: "too_many_requests"}


def _allowed_methods(request: Request) -> set[str]:
    """Methods the OpenAPI document lists for the request's path."""
    import re

    paths = request.app.openapi()["paths"]
    path = request.url.path
    if path in paths:  # a literal path (/candidates/bulk-reject) wins over a template (/candidates/{id})
        return {m.upper() for m in paths[path]}
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        table = [(re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", p) + "$"), {m.upper() for m in ops})
                 for p, ops in paths.items() if "{" in p]
        request.app.state.allowed_methods = table
    return {m for pattern, methods in table if pattern.match(path) for m in methods} or {"GET"}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the shared shape."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, 422, "validation_error", "the request is invalid: see details",
                              _details(list(exc.errors())))

    @app.exception_handler(ValidationError)
    async def _pydantic(request: Request, exc: ValidationError) -> JSONResponse:
        return error_response(request, 422, "validation_error", "the data is invalid: see details",
                              _details(list(exc.errors())))

    @app.exception_handler(TechmatchError)
    async def _ours(request: Request, exc: TechmatchError) -> JSONResponse:
        # one mapping for the whole family: NotFound 404, Conflict/Busy 409, Invalid 422, Unavailable 503
        return error_response(request, exc.status, exc.code, str(exc))

    @app.exception_handler(IndexMismatch)
    async def _mismatch(request: Request, exc: IndexMismatch) -> JSONResponse:
        return error_response(request, 503, "index_mismatch", str(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette names only the first route's methods; list every method the path supports
            methods = sorted(_allowed_methods(request))
            headers["Allow"] = ", ".join(methods)
            message = f"method {request.method} is not allowed here; use {', '.join(methods)}"
        return error_response(request, exc.status_code, code, message, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"request_id": getattr(request.state, "request_id", None)})
        return error_response(request, 500, "internal_error",
                              "an unexpected error occurred; quote the request_id when reporting it")
