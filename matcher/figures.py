"""The figures operators report: needs posted, matched and solved, pairings, contracts and their value,
by district, cluster and month, and the time from posting to the first confirmed match.

Confidential needs are counted like any other; no text of a listing appears here.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .service import MatchService

_COUNTERS = """
  count(*) as needs_posted,
  sum(n.status = 'open') as needs_open,
  sum(n.status in ('matched', 'solved')) as needs_matched,
  sum(n.status = 'solved') as needs_solved,
  coalesce(sum(p.confirmed), 0) as confirmed_pairings,
  coalesce(sum(p.signed), 0) as contracts_signed,
  round(coalesce(sum(p.value), 0), 2) as contract_value
"""
_PER_NEED = """
from needs n left join (
  select need_id, count(*) as confirmed, sum(stage in ('contract_signed', 'closed')) as signed,
         sum(case when stage in ('contract_signed', 'closed') then contract_value else 0 end) as value
  from pairings group by need_id
) p on p.need_id = n.id
"""


def _grouped(service: MatchService, key_sql: str, name: str) -> list[dict[str, Any]]:
    rows = service.store.query(f"select {key_sql} as {name}, {_COUNTERS} {_PER_NEED} group by 1 order by 2 desc")
    return [{k: (v if v is not None else 0) if k != name else (v or "未注明") for k, v in r.items()} for r in rows]


def _days(a: str, b: str) -> float:
    return (dt.datetime.fromisoformat(b[:19]) - dt.datetime.fromisoformat(a[:19])).total_seconds() / 86400


def figures(service: MatchService) -> dict[str, Any]:
    """Totals, breakdowns by district / cluster / month, time to first confirmed match, and the last batch."""
    totals = service.store.query(f"select {_COUNTERS} {_PER_NEED}")[0]
    totals = {k: v or 0 for k, v in totals.items()}
    totals["results_listed"] = service.store.count("results", "status in ('listed', 'negotiating')")
    totals["candidates_pending"] = service.store.count("candidates", "status = 'pending'")
    by_cluster = _grouped(service, "n.industry", "industry")
    for row in by_cluster:
        row["name"] = service.vocab.industries.name(row["industry"])
    firsts = service.store.query(
        "select coalesce(n.posted_at, n.created_at) as posted, min(p.created_at) as first "
        "from needs n join pairings p on p.need_id = n.id group by n.id")
    days = [max(0.0, _days(r["posted"], r["first"])) for r in firsts if r["posted"] and r["first"]]
    last = service.store.rows("batch_runs", order="id desc", limit=1)
    return {
        "totals": totals,
        "by_district": _grouped(service, "n.district", "district"),
        "by_cluster": by_cluster,
        "by_month": sorted(_grouped(service, "substr(coalesce(n.posted_at, n.created_at), 1, 7)", "month"),
                           key=lambda r: r["month"]),
        "time_to_first_match": {
            "n": len(days),
            "median_days": round(statistics.median(days), 1) if days else None,
            "mean_days": round(statistics.fmean(days), 1) if days else None,
        },
        "last_batch": last[0] if last else None,
    }
