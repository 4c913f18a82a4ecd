"""Free text against either side of the catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import OPTIONAL_AUTH, OptionalPrincipal, ServiceDep
from ..schemas import MatchesPublic, SearchRequest

router = APIRouter(prefix="/search", tags=["matching"])


@router.post("", response_model=MatchesPublic, openapi_extra=OPTIONAL_AUTH)
def search(body: SearchRequest, service: ServiceDep, who: OptionalPrincipal) -> Any:
    """Rank needs or results for a free-text description, e.g. a firm describing its problem in a sentence."""
    filters = body.filters.model_dump(exclude_none=True) if body.filters else {}
    found = service.matching.search(body.text, side=body.side, top_k=body.top_k, filters=filters, method=body.method,
                                    viewer=who)
    return {"query": {"text": body.text, "side": body.side}, "method": body.method or service.settings.method,
            "items": [m.to_dict() for m in found]}
