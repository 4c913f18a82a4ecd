"""ASGI middleware: request ids, body size limit, and refusal of NUL characters and invalid UTF-8."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from urllib.parse import unquote_to_bytes

log = logging.getLogger("techmatch.api")
_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_NUL_ESCAPE = re.compile(rb"\\u0000", re.I)


class Guard:
    """Wraps the app: every request gets an id (X-Request-ID) and is logged with it; bodies over the limit,
    bodies or query strings with NUL characters or invalid UTF-8 are refused with the shared error shape."""

    def __init__(self, app, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = headers.get("x-request-id", "")
        rid = rid if _RID.match(rid) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        async def refuse(status: int, code: str, message: str) -> None:
            body = json.dumps({"error": {"code": code, "message": message, "details": [], "request_id": rid}},
                              ensure_ascii=False).encode()
            await send_with_id({"type": "http.response.start", "status": status,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())]})
            await send_with_id({"type": "http.response.body", "body": body})

        try:
            query = scope.get("query_string", b"")
            if query:
                raw = unquote_to_bytes(query)
                if b"\x00" in raw:
                    return await refuse(400, "nul_character", "the query string contains a NUL character (%00)")
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return await refuse(400, "invalid_utf8", "the query string is not valid UTF-8")
            ctype = headers.get("content-type", "")
            limit = self.max_upload if "multipart/form-data" in ctype else self.max_body
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                return await refuse(413, "body_too_large", f"the body is {length} bytes; at most {limit} are accepted")
            if scope["method"] in ("POST", "PUT", "PATCH") and "multipart/form-data" not in ctype:
                chunks, size = [], 0
                more = True
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        return await refuse(413, "body_too_large", f"the body is over {self.max_body} bytes")
                    chunks.append(chunk)
                    more = message.get("more_body", False)
                body = b"".join(chunks)
                if b"\x00" in body or _NUL_ESCAPE.search(body):
                    return await refuse(422, "nul_character",
                                        "the body contains a NUL character (\\u0000): remove it from the text")
                try:
                    body.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return await refuse(400, "invalid_utf8",
                                        f"the body is not valid UTF-8 (byte {exc.start}): send UTF-8 encoded JSON")
                sent = False

                async def replay():
                    nonlocal sent
                    if not sent:
                        sent = True
                        return {"type": "http.request", "body": body, "more_body": False}
                    return await receive()

                return await self.app(scope, replay, send_with_id)
            return await self.app(scope, receive, send_with_id)
        finally:
            log.info("%s %s %s %.1fms request_id=%s", scope["method"], scope["path"], status_holder["status"],
                     (time.perf_counter() - start) * 1000, rid)
