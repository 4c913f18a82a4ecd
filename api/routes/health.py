"""Readiness and the vocabularies clients need to build forms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import ServiceDep
from ..schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(service: ServiceDep) -> Any:
    """Ready only when the encoder and both indexes are loaded."""
    if not service.ready:
        return JSONResponse({"status": "loading"}, status_code=503)
    status = service.indexes.status()
    return {"status": "ready", "encoder": service.indexes.encoder.name, "dim": service.indexes.encoder.dim,
            "counts": service.catalogue.counts(), "indexed": status["counts"], "log_seq": status["log_seq"],
            "applied_seq": status["applied_seq"], "lag": status["lag"], "snapshot_seq": status["snapshot_seq"],
            "index": status["index"], "store": status["store"]}


@router.get("/vocab", response_model=dict[str, Any])
def vocabularies(service: ServiceDep) -> Any:
    """Codes and Chinese names of every vocabulary (clusters, districts, transfer modes, …)."""
    v = service.vocab
    out: dict[str, Any] = {name: getattr(v, name).names for name in (
        "industries", "districts", "transfer_modes", "ip_types", "org_kinds", "need_statuses", "result_statuses",
        "confidentiality", "reject_reasons", "pairing_stages")}
    out["maturity_levels"] = [m.__dict__ for m in v.maturity]
    out["district_groups"] = v.district_groups
    return out
