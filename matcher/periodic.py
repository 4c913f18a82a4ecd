"""A daemon thread that runs one step every few seconds until stopped (following the log, renewing a lock)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("techmatch")


class Periodic:
    """Calls `step()` every `interval` seconds on a daemon thread; a step returning False ends it, a step raising
    is logged and retried at the next interval."""

    def __init__(self, name: str, interval: float, step: Callable[[], bool | None]) -> None:
        self.interval, self._step = interval, step
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Periodic:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if self._step() is False:
                    return
            except Exception:  # keep going; the next round retries
                log.exception("%s failed", self._thread.name)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
