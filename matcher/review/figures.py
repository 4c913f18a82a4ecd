"""The figures operators report: needs posted, matched and solved, pairings, contracts and their value,
by district, cluster and month, and the time from posting to the first confirmed match.

Confidential needs are counted like any other; no text of a listing appears here.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from matcher.ingest.vocab import Vocab
from matcher.store import AVAILABLE, Store

FUNNEL = ("needs_posted", "needs_proposed", "needs_matched", "needs_solved", "needs_closed")


def _months(rows: list[dict[str, Any]], key: str = "month") -> list[dict[str, Any]]:
    """Monthly rows with every month between the first and the last present (zeros where nothing happened), so
    a trend's axis never joins October to December."""
    known = {r[key]: r for r in rows if r.get(key) and len(str(r[key])) == 7}
    if not known:
        return sorted(rows, key=lambda r: str(r.get(key)))
    first, last = min(known), max(known)
    year, month = int(first[:4]), int(first[5:7])
    blank = {k: 0 for k in next(iter(known.values())) if k != key}
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        label = f"{year:04d}-{month:02d}"
        out.append(known.get(label, {key: label, **blank}))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _days(a: str, b: str) -> float:
    return (dt.datetime.fromisoformat(b[:19]) - dt.datetime.fromisoformat(a[:19])).total_seconds() / 86400


class Figures:
    """The operators' figures over the catalogue, the queue and the pipeline."""

    def __init__(self, store: Store, vocab: Vocab) -> None:
        self.store = store
        self.vocab = vocab

    def _grouped(self, key: str) -> list[dict[str, Any]]:
        rows = self.store.need_figures(key)
        return [{k: (v if v is not None else 0) if k != key else (v or "未注明") for k, v in r.items()} for r in rows]

    def figures(self) -> dict[str, Any]:
        """Totals, breakdowns by district / cluster / month, time to first confirmed match, and the last batch."""
        totals = {k: v or 0 for k, v in self.store.need_figures(None)[0].items()}
        totals["results_listed"] = self.store.count("results", {"status": AVAILABLE["results"]})
        totals["candidates_pending"] = self.store.count("candidates", {"status": "pending"})
        by_cluster = self._grouped("industry")
        for row in by_cluster:
            row["name"] = self.vocab.industries.name(row["industry"])
        firsts = self.store.first_pairings()
        days = [max(0.0, _days(r["posted"], r["first"])) for r in firsts if r["posted"] and r["first"]]
        last = self.store.rows("batch_runs", order="-id", limit=1)
        return {
            "totals": totals,
            "by_district": self._grouped("district"),
            "by_cluster": by_cluster,
            "by_month": _months(self._grouped("month")),
            "time_to_first_match": {
                "n": len(days),
                "median_days": round(statistics.median(days), 1) if days else None,
                "mean_days": round(statistics.fmean(days), 1) if days else None,
            },
            "last_batch": last[0] if last else None,
            # each step counts needs, each once, so every step is a subset of the one before
            "funnel": [{"step": k, "needs": totals[k]} for k in FUNNEL],
            "workload": [{**r, "confirmed": int(r["confirmed"] or 0), "rejected": int(r["rejected"] or 0),
                          "undone": int(r["undone"] or 0)} for r in self.store.decisions_by_actor()],
            "pairings_by_month": _months([{**r, "contracts_signed": int(r["contracts_signed"] or 0)}
                                          for r in self.store.pairings_by_month()]),
        }
