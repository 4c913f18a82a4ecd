"""Bulk work on Ray: an import's encoding and a batch run's ranking as tasks on a pool of Ray actors.

`ray.init()` starts a local Ray on this machine unless an address is given (`--ray-address`, a running cluster).
Each actor loads the encoder (and, for ranking, the catalogue: snapshot + log tail) once and then takes chunks.
Chunks are idempotent and their results land in the store chunk by chunk: vectors go to the shared embedding cache
(keyed by text hash, so a text is never stored twice and a restarted job encodes only what is still missing), and
a batch chunk's candidates are upserts on (need, result) that keep brokers' decisions. A worker that dies is
restarted by Ray and its chunk re-run; nothing is counted twice because the driver counts completed chunks.

Actors reach the store through the settings: a PostgreSQL URL (any machine of the cluster) or the SQLite data
folder (this machine only).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import ray
from ray.util import ActorPool

from matcher.settings import Settings


@dataclass(frozen=True)
class RayEngine:
    """Where and how wide to run: a cluster address (None = a local Ray), actors, and items per chunk."""

    address: str | None = None
    workers: int = 2
    chunk: int = 64
    threads: int = 1  # BLAS/OpenMP threads per actor: one per CPU Ray gives it

    name = "ray"

    def connect(self) -> None:
        """Join the cluster (or start a local Ray) once per process."""
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        if self.address:
            ray.init(address=self.address, **kwargs)
        else:
            ray.init(num_cpus=max(self.workers * self.threads, 1), object_store_memory=256 * 1024 * 1024, **kwargs)

    def _options(self) -> dict[str, Any]:
        return {"num_cpus": self.threads, "max_restarts": 2, "max_task_retries": 2,
                "runtime_env": {"env_vars": {"OMP_NUM_THREADS": str(self.threads),
                                             "OPENBLAS_NUM_THREADS": str(self.threads),
                                             "MKL_NUM_THREADS": str(self.threads)}}}

    def _pool(self, cls: Any, settings: Settings, n_chunks: int) -> tuple[ActorPool, list[Any]]:
        self.connect()
        wire = _wire(settings)
        actors = [cls.options(**self._options()).remote(wire) for _ in range(max(1, min(self.workers, n_chunks)))]
        return ActorPool(actors), actors

    def encode(self, settings: Settings, role: str, texts: Sequence[str],
               progress: Callable[[int, int], None] | None = None) -> int:
        """Encode `texts` into the settings' embedding cache, chunk by chunk across the actors; returns how many
        were encoded (the caller passes only texts the cache lacks)."""
        chunks = [list(texts[i:i + self.chunk]) for i in range(0, len(texts), self.chunk)]
        if not chunks:
            return 0
        pool, actors = self._pool(_EncodeActor, settings, len(chunks))
        done = 0
        try:
            for n in pool.map_unordered(lambda a, c: a.encode.remote(role, c), chunks):
                done += n
                if progress:
                    progress(done, len(texts))
        finally:
            for actor in actors:
                ray.kill(actor)
        return done

    def rank(self, settings: Settings, run_id: int, chunks: Sequence[Sequence[int]], top_k: int, method: str
             ) -> Iterator[tuple[int, int]]:
        """Score chunks of needs for a batch run; yields (needs, candidates) per completed chunk."""
        if not chunks:
            return
        pool, actors = self._pool(_RankActor, settings, len(chunks))
        try:
            yield from pool.map_unordered(lambda a, c: a.rank.remote(run_id, list(c), top_k, method), chunks)
        finally:
            for actor in actors:
                ray.kill(actor)


def _wire(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with absolute paths (an actor's working folder is not the driver's)."""
    data = settings.model_dump(mode="json")
    for key in ("data_dir", "vocab_dir", "demo_dir", "st_model", "snapshot_dir", "model_dir"):
        if data.get(key):
            data[key] = os.path.abspath(data[key])
    return data


@ray.remote
class _EncodeActor:
    """One worker's encoder, writing what it encodes into the shared embedding cache."""

    def __init__(self, wire: dict[str, Any]) -> None:
        from embeddings import CachedEncoder

        settings = Settings.model_validate(wire)
        self.encoder = CachedEncoder(settings.make_encoder(), settings.cache_path)

    def encode(self, role: str, texts: list[str]) -> int:
        fn = self.encoder.encode_documents if role == "document" else self.encoder.encode_queries
        fn(texts)  # cached on return: a retry of this chunk finds its vectors and encodes nothing
        return len(texts)


@ray.remote
class _RankActor:
    """One worker's copy of the catalogue (snapshot + log tail), scoring needs for a batch run."""

    def __init__(self, wire: dict[str, Any]) -> None:
        from matcher.app import App

        self.app = App(Settings.model_validate(wire))
        self.app.load()

    def rank(self, run_id: int, need_ids: list[int], top_k: int, method: str) -> tuple[int, int]:
        return len(need_ids), self.app.batches.score_needs(run_id, need_ids, top_k, method)
