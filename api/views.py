"""Turning service rows into what a caller may see, and the query parameters every list shares."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query

from matcher.catalogue.service import SORTABLE
from matcher.ingest.schemas import District, Industry, Mode, NeedStatus, ResultStatus


def _sorts(side: str) -> Any:
    return Literal[tuple(f"{sign}{c}" for c in SORTABLE[side] for sign in ("", "-"))]  # type: ignore[valid-type]


NeedSort, ResultSort = _sorts("needs"), _sorts("results")


class ListParams:
    """Pagination, filters and sorting shared by the needs and results lists."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        sort: Annotated[str, Query(description="Column, with - for descending, e.g. -posted_at.")] = "-id",
        q: Annotated[str | None, Query(max_length=200, description="Free text in title, text or keywords.")] = None,
        industry: Annotated[list[Industry] | None, Query()] = None,
        district: Annotated[list[District] | None, Query()] = None,
        status: Annotated[list[str] | None, Query(max_length=10)] = None,
        trl_min: Annotated[int | None, Query(ge=1, le=9, description="Maturity window (TRL).")] = None,
        trl_max: Annotated[int | None, Query(ge=1, le=9)] = None,
        mode: Annotated[list[Mode] | None, Query(description="Cooperation / transfer mode (any of).")] = None,
    ) -> None:
        self.limit, self.offset, self.sort, self.q = limit, offset, sort, q
        self.filters: dict[str, Any] = {"industry": industry, "district": district, "status": status,
                                        "trl_min": trl_min, "trl_max": trl_max, "modes": mode}


def _for_side(sort_type: Any, status_type: Any) -> Any:
    """ListParams whose `sort` and `status` accept exactly one side's columns and statuses."""
    import inspect

    sig = inspect.signature(ListParams.__init__)
    replace = {"sort": Annotated[sort_type, Query(description="Column, - for descending.")],
               "status": Annotated[list[status_type] | None, Query()]}
    params = [p.replace(annotation=replace[p.name]) if p.name in replace else p for p in sig.parameters.values()]

    def dependency(**kw: Any) -> ListParams:
        return ListParams(**kw)

    dependency.__signature__ = sig.replace(parameters=params[1:])  # type: ignore[attr-defined]
    return dependency


NeedList = Annotated[ListParams, Depends(_for_side(NeedSort, NeedStatus))]
ResultList = Annotated[ListParams, Depends(_for_side(ResultSort, ResultStatus))]


class MatchParams:
    """Hard filters of a match or search request."""

    def __init__(
        self,
        industry: Annotated[list[Industry] | None, Query()] = None,
        district: Annotated[list[District] | None, Query()] = None,
        trl_min: Annotated[int | None, Query(ge=1, le=9, description="Maturity window (TRL).")] = None,
        trl_max: Annotated[int | None, Query(ge=1, le=9)] = None,
        mode: Annotated[list[Mode] | None, Query(description="Cooperation / transfer mode (any of).")] = None,
    ) -> None:
        self.filters: dict[str, Any] = {"industry": industry, "district": district, "trl_min": trl_min,
                                        "trl_max": trl_max, "modes": mode}


MatchDep = Annotated[MatchParams, Depends()]
