"""Small helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import resource
from pathlib import Path

import numpy as np


def machine() -> str:
    """One line about the machine: cores, CPU, Python."""
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


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
