"""Dependencies: the shared service, the caller behind the API key, and role guards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.convertors import Convertor, register_url_convertor

from matcher.access import Principal
from matcher.app import App

MAX_ID = 2**53  # ids stay exact in JSON numbers (doubles) and within SQLite integers


class IdConvertor(Convertor):
    """Path ids: at most 16 digits (2**53 has 16), so a path holding a 5,000-digit number is simply no route (404)
    instead of an int() Python refuses to make (a 500)."""

    regex = "[0-9]{1,16}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("id", IdConvertor())  # `{need_id:id}` in every route path
Id = Annotated[int, Path(ge=0, le=MAX_ID, description="Numeric id.")]
bearer = HTTPBearer(auto_error=False, description="An API key from `techmatch keys create`.")


def get_service(request: Request) -> App:
    """The service loaded once in the app's lifespan."""
    return request.app.state.service


ServiceDep = Annotated[App, Depends(get_service)]


def get_principal(request: Request, service: ServiceDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal | None:
    """The caller, or None when no Authorization header was sent at all; a wrong key or a malformed header
    (another scheme, an empty token) is refused rather than treated as anonymous."""
    if credentials is None or not credentials.credentials.strip():
        if "authorization" in request.headers:
            raise HTTPException(401, "malformed Authorization header: send `Authorization: Bearer <key>`",
                                headers={"WWW-Authenticate": "Bearer"})
        return None
    principal = service.accounts.authenticate_key(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(get_principal)]
# OpenAPI for endpoints that work without a key (public view) and show more with one
OPTIONAL_AUTH = {"security": [{}, {"HTTPBearer": []}]}


def require(*roles: str) -> Callable[[Principal | None], Principal]:
    """A dependency that admits only callers with one of these roles."""

    def guard(principal: OptionalPrincipal) -> Principal:
        if principal is None:
            raise HTTPException(401, "this endpoint needs an API key: send Authorization: Bearer <key>",
                                headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in roles:
            raise HTTPException(403, f"role {principal.role!r} may not do this; allowed: {', '.join(roles)}")
        return principal

    return guard


AnyUser = Annotated[Principal, Depends(require("firm", "institution", "broker", "admin"))]
Broker = Annotated[Principal, Depends(require("broker", "admin"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Firm = Annotated[Principal, Depends(require("firm", "broker", "admin"))]
Institution = Annotated[Principal, Depends(require("institution", "broker", "admin"))]


def known_query(request: Request) -> None:
    """Refuse query parameters the endpoint does not read (422 naming the first): a typo such as `?fromat=xlsx` or
    `?lmit=5` would otherwise silently answer with the default. Applied to every route; the names come from the
    route's own OpenAPI parameters (cached per route)."""
    route = request.scope.get("route")
    if route is None or not request.query_params:
        return
    table = request.app.state.__dict__.setdefault("query_names", {})
    key = (route.path_format, request.method.lower())
    if key not in table:
        operation = request.app.openapi()["paths"].get(route.path_format, {}).get(request.method.lower(), {})
        table[key] = frozenset(p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")
    unknown = sorted(set(request.query_params) - table[key])
    if unknown:
        reads = ", ".join(sorted(table[key])) or "no query parameters"
        raise HTTPException(422, f"unknown query parameter {unknown[0]!r}; this endpoint reads {reads}")
