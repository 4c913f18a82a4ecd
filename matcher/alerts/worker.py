"""The alert worker: every `alert_interval` seconds, scan the change log for new alerts, then send the webhooks
that are due. Runs as a thread inside `techmatch serve`, or alone (`techmatch deliver`); several may run on one
catalogue (the scan takes a lock, each delivery is claimed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matcher.alerts.delivery import deliver_due
from matcher.alerts.scan import scan
from matcher.periodic import Periodic

if TYPE_CHECKING:
    from matcher.service import MatchService


def run_once(service: MatchService) -> dict[str, int]:
    """One round: scan (until the change log is read), then deliver what is due."""
    found = {"changes": 0, "alerts": 0}
    while True:
        step = scan(service)
        found = {k: found[k] + step[k] for k in found}
        if step["changes"] == 0:
            break
    return {**found, **deliver_due(service)}


class AlertWorker(Periodic):
    """run_once on a daemon thread every `alert_interval` seconds."""

    def __init__(self, service: MatchService) -> None:
        super().__init__("alert-worker", service.settings.alert_interval, lambda: bool(run_once(service)) or True)
