"""Alerts: subscriptions, the scan that records alerts from the change log, webhook delivery, Atom feeds, and the
worker that runs scan and delivery inside `techmatch serve` (or alone, `techmatch deliver`)."""

from matcher.alerts.delivery import deliver_due, redeliver, sign, verify
from matcher.alerts.scan import scan
from matcher.alerts.subscriptions import (
    alerts_of,
    by_feed_token,
    create,
    delete,
    deliveries_of,
    feed_of,
    list_for,
    owned,
    retry,
    view,
)
from matcher.alerts.worker import AlertWorker, run_once

__all__ = ["AlertWorker", "alerts_of", "by_feed_token", "create", "delete", "deliver_due", "deliveries_of", "feed_of",
           "list_for", "owned", "redeliver", "retry", "run_once", "scan", "sign", "verify", "view"]
