"""The application: every service named after its concept, composed once from the settings.

API routes, workbench pages and CLI commands are given an `App` and call its services (`app.catalogue`,
`app.matching`, `app.queue`, …); each service is a small class handed the store and the other services it needs
here, and nowhere else. `App` holds no behaviour of its own beyond loading, the background work of a long-running
process, and closing.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from embeddings import Encoder
from matcher.access.accounts import Accounts
from matcher.alerts import Alerts, AlertScan, AlertWorker, Deliveries, Payloads
from matcher.catalogue import process_token
from matcher.catalogue.export import Tables
from matcher.catalogue.importer import Importer
from matcher.catalogue.indexes import Indexes
from matcher.catalogue.service import Catalogue
from matcher.clarify.check import Clarification
from matcher.clarify.classifier import Clusters
from matcher.clarify.examples import Examples
from matcher.clarify.topic import ResearchTopics
from matcher.errors import SetupError
from matcher.ingest.vocab import Vocab, load_vocab
from matcher.learning.models import Models
from matcher.learning.service import Learning
from matcher.matching.service import Matching
from matcher.periodic import Periodic
from matcher.publish.catalogue import Publishing
from matcher.review.assignments import Assignments
from matcher.review.batches import Batches
from matcher.review.challenges import Challenges
from matcher.review.exports import Exports
from matcher.review.feed import CandidateFeed
from matcher.review.figures import Figures
from matcher.review.pipeline import Pipeline
from matcher.review.queue import ReviewQueue
from matcher.settings import Settings, get_settings
from matcher.store import Store, open_store

log = logging.getLogger("techmatch")


class App:
    """Every service of one catalogue, built once per process (the API's lifespan, the workbench's resource cache,
    one CLI command) and closed once: `with App(settings) as app: app.matching.match_need(7)`. Thread-safe."""

    def __init__(self, settings: Settings | None = None, encoder: Encoder | None = None) -> None:
        self.settings = settings = settings or get_settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store: Store = open_store(settings.database, settings.database_pool)
        self.vocab: Vocab = load_vocab(settings.vocab_dir)
        owner = process_token()
        store, vocab = self.store, self.vocab
        # the catalogue and what ranks it
        self.indexes = Indexes(settings, store, owner, encoder, on_reload=lambda: self.models.forget())
        self.models = Models(settings.index_dir, lambda: self.indexes.encoder.name, settings.make_float_model)
        self.catalogue = Catalogue(settings, store, vocab, self.indexes)
        self.matching = Matching(settings, store, vocab, self.indexes, self.models, self.catalogue)
        self.learning = Learning(settings, store, vocab, self.indexes, self.models)
        self.importer = Importer(settings, self.catalogue)
        self.tables = Tables(store)
        # who may do what
        self.accounts = Accounts(store)
        # brokers' work
        self.queue = ReviewQueue(store, vocab)
        self.pipeline = Pipeline(store, vocab)
        self.challenges = Challenges(store, self.catalogue)
        self.batches = Batches(settings, store, owner, self.catalogue, self.matching)
        self.feed = CandidateFeed(settings, store, owner, self.catalogue, self.matching, self.batches)
        self.assignments = Assignments(store, self.catalogue, self.matching)
        self.exports = Exports(store, vocab)
        self.figures = Figures(store, vocab)
        self.publishing = Publishing(settings, store, vocab, self.catalogue)
        # firms' needs made clearer
        self.clusters = Clusters(store, self.indexes)
        self.examples = Examples(vocab, self.indexes, self.matching)
        self.clarification = Clarification(vocab, self.indexes, self.clusters, self.examples)
        self.topics = ResearchTopics(store, vocab, self.indexes, self.catalogue, self.matching, self.clarification)
        # alerts
        self.payloads = Payloads(settings, store, vocab)
        self.deliveries = Deliveries(settings, store, owner, self.payloads)
        self.alert_scan = AlertScan(settings, store, owner, self.matching, self.payloads)
        self.alerts = Alerts(settings, store, vocab, self.payloads, self.deliveries)
        self._workers: list[Periodic] = []
        self._lock = threading.Lock()
        self.load_error: Exception | None = None  # what a background load (load_in_background) failed with

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def ready(self) -> bool:
        """Whether encoder and indexes are loaded (a page that ranks waits for this)."""
        return self.indexes.loaded

    def load(self) -> None:
        """Load encoder, indexes and model files now (the API and the workbench do this at start).

        A corrupt calibration or reranker file is a start-up error here, not a failure of every later request.
        """
        _ = self.indexes.encoder, self.indexes.live
        try:
            _ = self.models.calibration, self.models.reranker
        except Exception as exc:
            raise SetupError(f"a model file in {self.settings.index_dir} cannot be read ({type(exc).__name__}: "
                             f"{exc}); remove it or fit it again (`techmatch calibrate` / `techmatch train`)") from exc

    def run_background(self, alerts: bool | None = None) -> None:
        """The background work of a long-running process (API, workbench): follow the change log and keep the
        hubness figures, feed the review queue with candidates of newly posted needs (when settings ask for it),
        and scan and deliver alerts (`alerts`, by default as settings say); all stopped by `close`."""
        self.indexes.follow()
        with self._lock:
            if self._workers:
                return
            feed = self.feed.worker()
            if feed is not None:
                self._workers.append(feed.start())
            if self.settings.alert_worker if alerts is None else alerts:
                self._workers.append(AlertWorker(self.alert_scan, self.deliveries,
                                                 self.settings.alert_interval).start())

    def load_in_background(self, alerts: bool = False) -> threading.Thread:
        """Load in a thread, then run the background work (the workbench: its first page, the review queue, needs
        only the store; a page that ranks waits for the load). A failure is kept in `load_error` for the caller to
        show."""
        def warm() -> None:
            try:
                self.load()
                self.run_background(alerts)
            except Exception as exc:  # shown by the caller on its next page, not lost in the thread
                self.load_error = exc
                log.exception("loading the catalogue failed")

        self.load_error = None
        thread = threading.Thread(target=warm, name="techmatch-load", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Stop the background work, leave a snapshot if this process holds changes none has, close the store."""
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()
        self.indexes.close()
        self.store.close()
