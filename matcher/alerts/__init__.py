"""Alerts: subscriptions, the scan that records alerts from the change log, webhook delivery, Atom feeds, and the
worker that runs scan and delivery inside `techmatch serve` (or alone, `techmatch deliver`)."""

from matcher.alerts.delivery import Deliveries, sign, verify
from matcher.alerts.payload import Payloads
from matcher.alerts.scan import AlertScan
from matcher.alerts.subscriptions import Alerts
from matcher.alerts.worker import AlertWorker, run_once

__all__ = ["AlertScan", "AlertWorker", "Alerts", "Deliveries", "Payloads", "run_once", "sign", "verify"]
