"""Small helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import resource
import socket
import time
from pathlib import Path

import numpy as np


def machine() -> str:
    """One line about the machine: cores, CPU, Python."""
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def free_port() -> int:
    """A free local TCP port for a server the benchmark starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, attempts: int, interval: float, timeout: float = 2.0) -> bool:
    """Poll a health URL until it answers 200 (True) or the attempts run out (False)."""
    import httpx

    for _ in range(attempts):
        try:
            if httpx.get(url, timeout=timeout).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    return False


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    arr = np.asarray(seconds) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def rss_mb() -> float:
    """Current resident set size in MiB (Linux)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:  # pragma: no cover
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_mb() -> float:
    """Peak resident set size of this process, in MiB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def shared_benchmark(folder: Path):
    """A benchmark of ../shared/eval read at run time, or None (with a line saying so) when it is not there."""
    if not (Path(folder) / "queries.jsonl").exists():
        print(f"{folder} not found: nothing to measure")
        return None
    from matcher.learning.evaluation import load_benchmark

    return load_benchmark(folder)


SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
