"""The FastAPI application: routers, error handling, request ids and the service loaded once in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from matcher.app import App
from matcher.settings import Settings, get_settings

from . import errors
from .deps import known_query
from .errors import ErrorResponse
from .middleware import Guard
from .routes import assignments, challenges, health, listings, operations, organisations, review, search, subscriptions

DESCRIPTION = """
techmatch matches enterprise technology needs (技术需求) with research results (科技成果), in both directions,
and explains each match. Reads of public data need no key; everything else takes
`Authorization: Bearer <key>` (keys come from `techmatch keys create --role <role> --org <name>`).
Roles: firm (own needs), institution (own results), broker (review, pipeline, figures), admin (everything).
Confidential needs are redacted for everyone but their owner, brokers and admins.
"""


def create_app(settings: Settings | None = None, service: App | None = None) -> FastAPI:
    """Build the app; the encoder and indexes load once when it starts."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or App(settings)
        app.state.service = svc
        svc.load()
        svc.run_background()  # follow other processes' writes, the candidate feed and (settings) the alert worker
        yield
        if service is None:
            svc.close()

    app = FastAPI(title="techmatch", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(known_query)],
                  responses={
                      400: {"model": ErrorResponse, "description": "malformed request (bad UTF-8, NUL in query)"},
                      401: {"model": ErrorResponse, "description": "missing or unknown API key"},
                      403: {"model": ErrorResponse, "description": "the key's role may not do this"},
                      404: {"model": ErrorResponse, "description": "unknown id"},
                      405: {"model": ErrorResponse, "description": "method not allowed on this path"},
                      409: {"model": ErrorResponse, "description": "conflicts with the current state"},
                      413: {"model": ErrorResponse, "description": "body too large"},
                      422: {"model": ErrorResponse, "description": "invalid request"},
                  })
    errors.install(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])
    app.add_middleware(Guard, max_body=settings.max_body_bytes, max_upload=settings.max_upload_bytes)
    for router in (health.router, organisations.router, listings.needs, listings.results, search.router,
                   review.candidates, review.reviews, review.pairings, challenges.router, operations.batch,
                   operations.imports, operations.exports, operations.figures,
                   assignments.assignments, assignments.conflicts, subscriptions.router):
        app.include_router(router)
    logging.getLogger("techmatch.api").setLevel(logging.INFO)
    return app
