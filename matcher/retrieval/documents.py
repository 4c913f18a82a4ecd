"""The text a listing is indexed by and the query views it is searched with (one definition for every layer)."""

from __future__ import annotations

from typing import Any


def document_text(side: str, row: dict[str, Any]) -> str:
    """The text a listing is indexed by (dense passage and BM25 document)."""
    body = row.get("description") if side == "needs" else row.get("abstract")
    parts = [row.get("title") or "", body or "", "，".join(row.get("keywords") or [])]
    if side == "results" and row.get("application_fields"):
        parts.append(row["application_fields"])
    return "。".join(p for p in parts if p)


def query_views(side: str, row: dict[str, Any]) -> tuple[list[str], list[float], str]:
    """(dense query views, their weights, lexical query text) for a listing used as a query.

    The title alone is a sharp dense query; the full text adds the substance a short title leaves out.
    """
    body = row.get("description") if side == "needs" else row.get("abstract")
    title = row.get("title") or ""
    full = "。".join(p for p in [title, body or "", "，".join(row.get("keywords") or [])] if p)
    views, weights = [title], [1.0]
    if full != title:
        views.append(full)
        weights.append(1.0)
    return views, weights, f"{title}。{title}。{full}"
