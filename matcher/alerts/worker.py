"""The alert worker: every `alert_interval` seconds, scan the change log for new alerts, then send the webhooks
that are due. Runs as a thread inside `techmatch serve`, or alone (`techmatch deliver`); several may run on one
catalogue (the scan takes a lock, each delivery is claimed)."""

from __future__ import annotations

from matcher.alerts.delivery import Deliveries
from matcher.alerts.scan import AlertScan
from matcher.periodic import Periodic


def run_once(scan: AlertScan, deliveries: Deliveries) -> dict[str, int]:
    """One round: scan (until the change log is read), then deliver what is due."""
    found = {"changes": 0, "alerts": 0}
    while True:
        step = scan.scan()
        found = {k: found[k] + step[k] for k in found}
        if step["changes"] == 0:
            break
    return {**found, **deliveries.deliver_due()}


class AlertWorker(Periodic):
    """run_once on a daemon thread every `alert_interval` seconds."""

    def __init__(self, scan: AlertScan, deliveries: Deliveries, interval: float) -> None:
        super().__init__("alert-worker", interval, lambda: bool(run_once(scan, deliveries)) or True)
