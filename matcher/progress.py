"""Progress callbacks: long work (imports, rebuilds, batch runs) reports (done, total) to whoever shows it."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
