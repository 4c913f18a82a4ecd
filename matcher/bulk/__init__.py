"""Bulk work across processes and machines: an import's encoding and a batch run's ranking on an engine.

The in-process path needs nothing; `--engine ray` runs the same steps as Ray tasks (matcher.bulk.ray_engine).
"""

from __future__ import annotations

from typing import Any

from matcher.errors import SetupError

ENGINES = ("local", "ray")


def get_engine(name: str, address: str | None = None, workers: int = 2, chunk: int | None = None) -> Any:
    """The engine called `name`: None for the in-process path, or a RayEngine."""
    if name == "local":
        if address:
            raise SetupError("--ray-address needs --engine ray")
        return None
    if name != "ray":
        raise SetupError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    try:
        from matcher.bulk.ray_engine import RayEngine
    except ImportError as exc:
        raise SetupError(f"the Ray engine needs Ray: pip install 'techmatch[scale]' ({exc})") from None
    return RayEngine(address=address, workers=workers, **({"chunk": chunk} if chunk else {}))
