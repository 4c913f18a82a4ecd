"""How the structured fields of a need and a result fit (industry, district, maturity gap, transfer modes): features
the reranker learns from and the part of an explanation a broker reads beside the shared terms."""

from __future__ import annotations

from typing import Any

from matcher.ingest.vocab import Vocab

# transfer modes a need can be served by, beyond the identical mode
COMPATIBLE_MODES: dict[str, set[str]] = {
    "commissioned_dev": {"joint_dev", "service", "consulting"},
    "joint_dev": {"commissioned_dev", "equity"},
    "transfer": {"license"},
    "license": {"transfer"},
    "service": {"consulting", "commissioned_dev"},
    "consulting": {"service"},
    "equity": {"joint_dev"},
    "other": set(),
    "self_implement": set(),
}


def field_fits(need: dict[str, Any], result: dict[str, Any], vocab: Vocab) -> dict[str, Any]:
    """How the structured fields of a need and a result fit: industry, district, maturity gap, transfer modes."""
    wanted = set(need.get("coop_modes") or [])
    offered = set(result.get("transfer_modes") or [])
    same = sorted(wanted & offered)
    compatible = sorted(m for m in offered - wanted if any(m in COMPATIBLE_MODES.get(w, set()) for w in wanted))
    lo, hi, trl = need.get("wanted_trl_min") or 1, need.get("wanted_trl_max") or 9, result.get("trl") or 0
    gap = 0 if lo <= trl <= hi else (lo - trl if trl < lo else trl - hi)
    return {
        "industry_match": need.get("industry") == result.get("industry"),
        "industry": vocab.industries.name(result.get("industry") or "other"),
        "industry_code": result.get("industry") or "other",
        "district_match": bool(need.get("district")) and need.get("district") == result.get("district"),
        "maturity_gap": int(gap),
        "result_trl": int(trl),
        "wanted_trl": [int(lo), int(hi)],
        "modes_match": [vocab.transfer_modes.name(m) for m in same],
        "modes_compatible": [vocab.transfer_modes.name(m) for m in compatible],
        "mode_codes": {"match": same, "compatible": compatible},
        "modes_fit": bool(same or compatible) if wanted and offered else None,
    }


__all__ = ["COMPATIBLE_MODES", "field_fits"]
