"""This process's indexes as a service: the encoder that fills them and both sides' live indexes, loaded on first
use, brought up to date with the store's change log on every read, and followed in the background by a long-running
process (API, workbench)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from embeddings import CachedEncoder, Encoder
from matcher.catalogue.live import Follower, Keeper, LiveCatalogue
from matcher.periodic import Periodic
from matcher.settings import Settings
from matcher.store import LISTING_TABLES, Store

Progress = Callable[[int, int], None]
log = logging.getLogger("techmatch")


class Indexes:
    """The encoder (with its embedding cache) and the live indexes of both sides. Thread-safe.

    `on_reload` is called whenever the models beside the index must be read again (another process installed one,
    or this one switched encoder)."""

    def __init__(self, settings: Settings, store: Store, owner: str, encoder: Encoder | None = None,
                 on_reload: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self.store = store
        self.owner = owner
        self._encoder = encoder
        self._on_reload = on_reload
        self._live: LiveCatalogue | None = None
        self._lock = threading.Lock()
        self._followers: list[Periodic] = []

    @property
    def encoder(self) -> Encoder:
        """The dense encoder (with its embedding cache), loaded on first use."""
        if self._encoder is None:
            self._encoder = CachedEncoder(self.settings.make_encoder(), self.settings.cache_path,
                                          self.store.connections)
        elif not isinstance(self._encoder, CachedEncoder):
            self._encoder = CachedEncoder(self._encoder, self.settings.cache_path, self.store.connections)
        return self._encoder

    def _new(self) -> LiveCatalogue:
        return LiveCatalogue(self.store, self.encoder, self.settings, self.owner, self._on_reload)

    @property
    def live(self) -> LiveCatalogue:
        """Both sides' live indexes: loaded on first use (snapshot + log tail), then brought up to date with the
        store's change log on every access, so a ranking read never misses a committed write."""
        cat = self._live
        if cat is None:
            with self._lock:
                if self._live is None:
                    fresh = self._new()
                    fresh.load()
                    self._live = fresh
                cat = self._live
        cat.sync()
        return cat

    @property
    def loaded(self) -> bool:
        """Whether encoder and indexes are in memory."""
        return self._live is not None and self._encoder is not None

    @property
    def applied_seq(self) -> int:
        """The change-log sequence this process's indexes reflect (0 before they load)."""
        return self._live.applied if self._live else 0

    def follow(self) -> None:
        """Keep following the change log and every hubness figure computed, in the background (stopped by
        `close`)."""
        if not self._followers:
            self._followers = [Follower(lambda: self.live, self.settings.follow_interval).start(),
                               Keeper(lambda: self._live).start()]

    def rebuild(self, progress: Progress | None = None) -> dict[str, int]:
        """Re-encode (through the cache) and rebuild both indexes from the store, then snapshot them."""
        with self._lock:
            if self._live is None:
                self._live = self._new()
        return self._live.rebuild(progress)

    def switch_encoder(self, progress: Progress | None = None) -> dict[str, int]:
        """Use the model just installed in the data folder and re-encode the catalogue with it (the indexes of the
        old encoder cannot hold its vectors); returns the listings indexed."""
        self._encoder = None
        self._on_reload()
        if self._live is None and not any(self.store.count(t) for t in LISTING_TABLES):
            return {}
        with self._lock:
            self._live = self._new()
        return self._live.rebuild(progress)

    def status(self) -> dict[str, Any]:
        """What the indexes hold and how far behind the store they are (for /health and `techmatch index`)."""
        cat = self._live
        last = self.store.last_change()
        applied = self.applied_seq
        out: dict[str, Any] = {"log_seq": last, "applied_seq": applied, "lag": last - applied,
                               "snapshot_seq": cat.snapshot_seq if cat else 0, "counts": {}, "index": {},
                               "store": self.store.dialect.name}
        if cat is not None:
            out["counts"] = {side: len(s.dense) for side, s in cat.sides.items()}
            out["index"] = {side: s.dense.effective_kind for side, s in cat.sides.items()}
        return out

    def close(self) -> None:
        """Stop following the log and leave a snapshot if this process holds changes none has."""
        for thread in self._followers:
            thread.stop()
        self._followers = []
        if self._live is not None and self._live.applied > self._live.snapshot_seq:
            try:
                self._live.snapshot()
            except Exception:  # the log still holds every change: the next start replays it
                log.exception("snapshot at close failed")
