"""Organisations: firms, universities, institutes, brokers and innovation complexes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..deps import Admin, Id, ServiceDep
from ..schemas import OrgCreate, OrgKind, OrgPublic, Page

router = APIRouter(prefix="/organisations", tags=["organisations"])


@router.get("", response_model=Page[OrgPublic])
def list_organisations(service: ServiceDep, kind: OrgKind | None = None,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Any:
    rows, total = service.catalogue.list_orgs(kind, limit, offset)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


@router.get("/{org_id:id}", response_model=OrgPublic)
def get_organisation(org_id: Id, service: ServiceDep) -> Any:
    return service.catalogue.get_org(org_id)


@router.post("", response_model=OrgPublic, status_code=201)
def create_organisation(body: OrgCreate, service: ServiceDep, who: Admin) -> Any:
    """Admins register organisations (keys for them come from `techmatch keys create`)."""
    return service.catalogue.add_org(body.model_dump(), actor=who.actor)
