"""The daily digest: a subscriber's alerts grouped by day (Beijing time), newest day first, for the workbench."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matcher.access import Principal
from matcher.alerts.payload import current_payload
from matcher.alerts.subscriptions import list_for
from matcher.localtime import beijing

if TYPE_CHECKING:
    from matcher.service import MatchService


def day_of(stamp: str) -> str:
    """The Beijing date (YYYY-MM-DD) of a stored UTC timestamp."""
    return beijing(stamp).date().isoformat()


def digest(service: MatchService, who: Principal, limit: int = 500) -> list[tuple[str, list[dict[str, Any]]]]:
    """[(day, alerts)] for the organisation's subscriptions, newest day first, best match first within a day; each
    alert carries its subscription's name and its delivery's status (None without a webhook)."""
    subs = {s["id"]: s for s in list_for(service, who)}
    if not subs:
        return []
    store = service.store
    rows = store.rows("alerts", {"subscription_id": list(subs)}, order="-id", limit=limit)
    sent = {d["alert_id"]: d["status"] for d in store.rows("deliveries", {"subscription_id": list(subs)})}
    days: dict[str, list[dict[str, Any]]] = {}
    owners = {r["id"]: r for r in store.rows("subscriptions", {"id": list(subs)})}
    for row in rows:
        shown = current_payload(service, row, owners[row["subscription_id"]])
        days.setdefault(day_of(row["created_at"]), []).append(
            {**row, "payload": shown, "subscription": subs[row["subscription_id"]], "delivery": sent.get(row["id"])})
    return [(day, sorted(items, key=lambda a: -a["confidence"])) for day, items in
            sorted(days.items(), reverse=True)]
