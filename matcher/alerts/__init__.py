"""Alerts: subscriptions, the scan that records alerts from the change log, webhook delivery, Atom feeds, and the
worker that runs scan and delivery inside `techmatch serve` (or alone, `techmatch deliver`)."""

from matcher.alerts.delivery import deliver_due, redeliver, sign
from matcher.alerts.scan import scan
from matcher.alerts.subscriptions import by_feed_token, create, delete, list_for, owned, view
from matcher.alerts.worker import AlertWorker, run_once

__all__ = ["AlertWorker", "by_feed_token", "create", "delete", "deliver_due", "list_for", "owned", "redeliver",
           "run_once", "scan", "sign", "view"]
