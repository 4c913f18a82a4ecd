"""The live catalogue of one process: both sides' FAISS and BM25 indexes, derived from the store and following it.

The store is the truth. Every committed listing write appends a row to the store's change log (a trigger, in the
writing transaction), after the writer has put the listing's vector into the shared embedding cache. A process
loads the newest snapshot on disk (the indexes as of a log sequence) and applies the log's tail; from then on it
applies newer rows before every ranking read and from a background poll, taking vectors from the embedding cache,
never re-encoding. Applying a row is idempotent (the listing's current row is read, or its absence removes it), so
a snapshot that holds "at least" sequence N plus a replay from N is exact.

Snapshots (`index/snapshots/<seq>-<token>/`, pointed at by `index/CURRENT.json`, replaced atomically) are written
in the background by whichever process holds the store's `snapshot` lock, and never over one that holds more.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import Encoder
from matcher.errors import Busy
from matcher.periodic import Periodic
from matcher.retrieval.documents import document_text
from matcher.retrieval.index import IndexMismatch, VectorIndex, atomic_savez, atomic_write
from matcher.retrieval.lexical import LexicalIndex
from matcher.retrieval.ranking import CatalogueSide
from matcher.retrieval.text import learn_terms
from matcher.settings import Settings
from matcher.store import LISTING_TABLES, Store

Progress = Callable[[int, int], None]
log = logging.getLogger("techmatch.catalogue")
MODELS_SIDE = "models"  # change-log rows that say a model file beside the index changed (reranker, calibration)
ENCODE_CHUNK = 256  # texts encoded (and cached) per step; a step reports progress …
PROGRESS_CHUNK = 16  # … every this many texts when someone follows it (a progress bar, a client that may leave)
APPLY_CHUNK = 5_000


def is_hidden(side: str, row: dict[str, Any]) -> bool:
    """Whether a listing's text is hidden from outsiders (a confidential need): what is learnt or counted from the
    catalogue for everyone — BM25's public statistics, hubness, the words explanations know — leaves it out."""
    return side == "needs" and row.get("confidentiality") == "brokers"


def hidden_ids(side: str, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Ids of the hidden listings among these rows."""
    return [int(r["id"]) for r in rows if is_hidden(side, r)]


def process_token() -> str:
    """A name for this process that no other process on any machine shares (lock owner, snapshot folder)."""
    return f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class LiveCatalogue:
    """Both sides' indexes as of `applied` (a change-log sequence), kept in step with the store."""

    def __init__(self, store: Store, encoder: Encoder, settings: Settings, owner: str | None = None,
                 on_models: Callable[[], None] | None = None) -> None:
        self.store = store
        self.encoder = encoder
        self.settings = settings
        self.owner = owner or process_token()
        self.on_models = on_models
        self.sides: dict[str, CatalogueSide] = {}
        self.applied = 0  # newest change-log sequence the indexes reflect
        self.snapshot_seq = 0  # sequence of the newest snapshot this process knows is on disk
        self.snapshot_at = time.monotonic()
        self.lock = threading.RLock()  # serialises applying changes, loading and snapshots in this process
        self._snapshot_mutex = threading.Lock()

    # -- paths ----------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """Where snapshots live: this process's index folder, or a folder shared by replicas."""
        return self.settings.snapshot_dir or self.settings.index_dir

    @property
    def folder(self) -> Path:
        return self.root / "snapshots"

    @property
    def pointer(self) -> Path:
        return self.root / "CURRENT.json"

    def current(self) -> dict[str, Any] | None:
        """The manifest of the newest snapshot on disk, or None."""
        try:
            return json.loads(self.pointer.read_text("utf-8"))
        except FileNotFoundError:
            return None

    # -- loading --------------------------------------------------------------------------
    def load(self, progress: Progress | None = None) -> None:
        """Latest snapshot + the tail of the log; with no snapshot (or an unreadable one), build from the store
        through the embedding cache. An index built by another encoder is refused (IndexMismatch)."""
        self._outside_transaction("load")
        self.clean_temp()
        with self.lock:
            for attempt in range(3):
                manifest = self.current()
                if manifest is None:
                    self._build(progress)
                    break
                try:
                    self._load_snapshot(manifest)
                    break
                except IndexMismatch:
                    raise
                except Exception as exc:  # replaced meanwhile (retry), or damaged: the store can rebuild it
                    if attempt == 2:
                        log.warning("snapshot %s cannot be read (%s): rebuilding from the store",
                                    manifest.get("snapshot"), exc)
                        self._build(progress)
            self.sync()

    def _outside_transaction(self, what: str) -> None:
        if self.store.in_transaction():
            raise RuntimeError(f"cannot {what} the catalogue inside an uncommitted transaction (it could roll back)")

    def _load_snapshot(self, manifest: dict[str, Any]) -> None:
        enc = self.encoder
        if manifest.get("catalogue") != self.store.catalogue_id:
            # another catalogue's snapshot (a copied folder, a migrated store): its sequence numbers mean nothing here
            log.warning("snapshot %s belongs to catalogue %s, not this store's %s: rebuilding from the store",
                        manifest.get("snapshot"), manifest.get("catalogue"), self.store.catalogue_id)
            self._build(None)
            return
        if manifest.get("encoder") != enc.name or int(manifest.get("dim", -1)) != enc.dim:
            raise IndexMismatch(
                f"the index in {self.root} was built by encoder {manifest.get('encoder')!r} "
                f"(dim {manifest.get('dim')}), not {enc.name!r} (dim {enc.dim}): run `techmatch index --rebuild` "
                "to rebuild it for this encoder")
        if manifest.get("tokenizer") != self.settings.lexical_tokenizer:
            log.warning("snapshot uses BM25 tokenizer %s, settings say %s: rebuilding from the store",
                        manifest.get("tokenizer"), self.settings.lexical_tokenizer)
            self._build(None)
            return
        folder = self.folder / manifest["snapshot"]
        sides = {}
        for side in LISTING_TABLES:
            dense = VectorIndex.read(folder / f"{side}.faiss", enc.dim, enc.name, manifest.get("kind", "flat"),
                                     self.settings.ivf_nprobe)
            lexical = LexicalIndex.load(folder / f"{side}.bm25.npz", tokenizer=self.settings.lexical_tokenizer)
            sides[side] = CatalogueSide(side, dense, lexical)
        self._install(sides, int(manifest["seq"]))
        for side, s in sides.items():  # hubness figures as computed by the writer (none in older snapshots)
            path = folder / f"{side}.hubness.npz"
            if path.exists():
                try:
                    with np.load(path, allow_pickle=False) as saved:
                        s.hubness.adopt(s.dense, s.other, dict(saved))
                except Exception as exc:  # only derived figures: computed again on demand
                    log.warning("hubness figures in %s cannot be read (%s): computing them again", path, exc)
        self.snapshot_seq = int(manifest["seq"])
        learn_terms(self.store.keywords(public=True))

    def _build(self, progress: Progress | None) -> None:
        """Every listing of the store, encoded through the cache, as of the log's current end.

        Streams the store a page at a time into one preallocated vector block and the BM25 index, so a build at
        1M listings holds the vectors once (1.5 GiB) and one page of rows, never a million decoded rows."""
        seq = self.store.last_change()  # read first: rows changed meanwhile are replayed by sync()
        sides = {}
        for side in LISTING_TABLES:
            total = self.store.count(side)
            vectors = np.empty((total, self.encoder.dim), dtype=np.float32)
            ids: list[int] = []
            lexical = LexicalIndex(self.settings.lexical_tokenizer)
            for page in self.store.text_pages(side):  # (needs with their confidentiality)
                start = len(ids)
                if start + len(page) > len(vectors):  # rows committed since the count (applying them is idempotent)
                    vectors = np.concatenate([vectors, np.empty((start + len(page) - len(vectors), vectors.shape[1]),
                                                                dtype=np.float32)])
                step = (lambda done, _n, base=start, n=total: progress(base + done, n)) if progress else None
                vectors[start:start + len(page)] = self.encode(side, page, step)
                ids.extend(r["id"] for r in page)
                lexical.add([r["id"] for r in page], [document_text(side, r) for r in page], hidden_ids(side, page))
                learn_terms(k for r in page if not is_hidden(side, r) for k in r.get("keywords") or [])
            dense = VectorIndex(self.encoder.dim, self.encoder.name, self.settings.index_kind,
                                self.settings.ivf_nprobe)
            dense.build(ids, vectors[:len(ids)])
            del vectors
            sides[side] = CatalogueSide(side, dense, lexical)
        self._install(sides, seq)
        self.snapshot_seq = 0

    def _install(self, sides: dict[str, CatalogueSide], seq: int) -> None:
        sides["needs"].other = sides["results"].dense
        sides["results"].other = sides["needs"].dense
        sides["results"].hubness.hidden = sides["needs"].lexical.hidden_ids  # confidential needs count for no figure
        self.sides = sides
        self.applied = seq

    def encode(self, side: str, rows: Sequence[dict[str, Any]], progress: Progress | None = None) -> np.ndarray:
        """Document vectors of these listing rows, from the embedding cache, encoded (and cached) when missing.

        Writers call it before their write transaction: encoding takes ~40 ms a listing, and other processes must
        not wait that long for the store's write lock; every process then finds the vectors in the cache."""
        return self.encode_texts([document_text(side, r) for r in rows], progress)

    def encode_texts(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Document vectors of listing texts (`document_text`), from the cache or encoded, in chunks."""
        out = [np.zeros((0, self.encoder.dim), dtype=np.float32)]
        step = PROGRESS_CHUNK if progress else ENCODE_CHUNK
        for start in range(0, len(texts), step):
            out.append(self.encoder.encode_documents(list(texts[start:start + step])))
            if progress:
                progress(min(start + step, len(texts)), len(texts))
        return np.vstack(out)

    def rebuild(self, progress: Progress | None = None) -> dict[str, int]:
        """Rebuild both sides from the store and write a snapshot (after an encoder or tokenizer change); Busy
        when no snapshot could be written (another process kept the snapshot lock, or holds a newer one)."""
        self._outside_transaction("rebuild")
        with self.lock:
            self._build(progress)
            self.sync()
            counts = {side: len(s.dense) for side, s in self.sides.items()}
        if not self.snapshot(force=True) and self._seq_of(self.current()) < self.applied:
            raise Busy("the indexes were rebuilt in memory but no snapshot could be written: another process holds "
                       "the snapshot lock; try again")
        return counts

    # -- following the log ----------------------------------------------------------------
    def sync(self) -> int:
        """Apply every committed change newer than `applied`; returns how many log rows were applied.

        Inside an uncommitted transaction of the calling thread nothing is applied (it could still roll back):
        the writer syncs after its commit.
        """
        if self.store.in_transaction() or self.store.last_change() <= self.applied:
            return 0
        applied = 0
        with self.lock:
            while True:
                changes = self.store.changes_since(self.applied, APPLY_CHUNK)
                if not changes:
                    return applied
                self._apply(changes)
                self.applied = int(changes[-1]["seq"])
                applied += len(changes)

    def _apply(self, changes: Sequence[dict[str, Any]]) -> None:
        touched: dict[str, dict[int, None]] = {side: {} for side in LISTING_TABLES}
        models = False
        for change in changes:
            if change["side"] in touched:
                touched[change["side"]][int(change["item_id"])] = None
            elif change["side"] == MODELS_SIDE:
                models = True
        for side, ids in touched.items():
            if not ids:
                continue
            rows = self.store.get_many(side, list(ids))
            gone = [i for i in ids if i not in rows]
            present = [rows[i] for i in ids if i in rows]
            s = self.sides[side]
            if gone:
                s.dense.remove(gone)
                s.lexical.remove(gone)
            if present:
                texts = [document_text(side, r) for r in present]
                s.dense.add([r["id"] for r in present], self.encode_texts(texts))
                s.lexical.add([r["id"] for r in present], texts, hidden_ids(side, present))
                learn_terms(k for r in present if not is_hidden(side, r) for k in r.get("keywords") or [])
        if models and self.on_models:
            self.on_models()

    # -- snapshots ------------------------------------------------------------------------
    def retrain_outgrown(self) -> list[str]:
        """Turn each side's exact index that outgrew `auto`'s limit into the approximate one (see
        VectorIndex.retrain); returns the sides retrained. Their next snapshot holds the new kind."""
        done = []
        for name, side in list(self.sides.items()):
            if side.dense.outgrown():
                t0 = time.monotonic()
                kind = side.dense.retrain()
                log.info("%s index outgrew the exact kind at %d items: now %s (%.1f s)", name, len(side.dense), kind,
                         time.monotonic() - t0)
                done.append(name)
        return done

    def refresh_hubness(self, budget: float) -> int:
        """Compute missing or stale hubness figures of both sides for up to `budget` seconds in all; returns how
        many are left (a background thread calls it, so queries find the figures ready)."""
        left, end = 0, time.monotonic() + budget
        for side in list(self.sides.values()):
            left += side.hubness.refresh(side.dense, side.other, max(0.0, end - time.monotonic()))
        return left

    def due(self) -> bool:
        """Whether this process should offer a snapshot now (by count of rows or by time since the last)."""
        behind = self.applied - self.snapshot_seq
        return behind >= self.settings.snapshot_every or (
            behind > 0 and time.monotonic() - self.snapshot_at >= self.settings.snapshot_interval)

    def snapshot(self, force: bool = False) -> bool:
        """Write the indexes to disk as a new snapshot unless one holding as much is there; True when written.

        At most one process writes at a time (the store's `snapshot` lock); a forced snapshot (rebuild) may replace
        one at the same sequence, never one that holds more.
        """
        with self._snapshot_mutex:  # one snapshot at a time in this process (follower, close, rebuild)
            token = f"{self.owner}:{uuid.uuid4().hex[:8]}"  # the store lock is per call, not per process
            deadline = time.monotonic() + (120 if force else 0)
            while not self.store.try_lock("snapshot", token, ttl=600):
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.5)
            try:
                return self._write_snapshot(token, force)
            finally:
                self.store.release_lock("snapshot", token)

    def _write_snapshot(self, token: str, force: bool) -> bool:
        on_disk = self.current()
        if on_disk and not force and (on_disk.get("encoder") != self.encoder.name
                                      or on_disk.get("tokenizer") != self.settings.lexical_tokenizer):
            return False  # another encoder's snapshot (after `index --rebuild`): only a forced rebuild replaces it
        disk_seq = self._seq_of(on_disk)
        with self.lock:
            seq = self.applied
            if disk_seq > seq or (disk_seq == seq and not force):
                self.snapshot_seq = max(self.snapshot_seq, min(disk_seq, seq))
                self.snapshot_at = time.monotonic()
                return False
            name = f"{seq:012d}-{uuid.uuid4().hex[:8]}"
            tmp = self.folder / f".tmp-{name}"
            tmp.mkdir(parents=True, exist_ok=True)
            blobs = {side: s.dense.serialize() for side, s in self.sides.items()}
            for side, s in self.sides.items():
                s.lexical.save(tmp / f"{side}.bm25.npz")
            hubness = {side: s.hubness.export(s.dense, s.other) for side, s in self.sides.items()}
            kind = self.sides["results"].dense.kind
            kinds = {side: s.dense.effective_kind for side, s in self.sides.items()}
            counts = {side: len(s.dense) for side, s in self.sides.items()}
        for side, data in blobs.items():
            atomic_write(tmp / f"{side}.faiss", lambda p, d=data: Path(p).write_bytes(d.tobytes()))
            atomic_savez(tmp / f"{side}.hubness.npz", hubness[side])
        os.replace(tmp, self.folder / name)
        _fsync_dir(self.folder)  # the folder's new name is durable before the pointer names it
        # still ours, and nothing that holds more appeared meanwhile (a lock that ran out, a clock jump)
        latest = self.current()
        latest_seq = self._seq_of(latest)
        if not self.store.try_lock("snapshot", token, ttl=600) or latest_seq > seq or (latest_seq == seq and not force):
            shutil.rmtree(self.folder / name, ignore_errors=True)
            return False
        manifest = {"snapshot": name, "seq": seq, "catalogue": self.store.catalogue_id,
                    "encoder": self.encoder.name, "dim": self.encoder.dim,
                    "kind": kind, "index": kinds, "tokenizer": self.settings.lexical_tokenizer, "counts": counts,
                    "written_by": self.owner, "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        atomic_write(self.pointer, lambda p: Path(p).write_text(json.dumps(manifest, indent=2), "utf-8"))
        self.snapshot_seq, self.snapshot_at = seq, time.monotonic()
        self._prune(current=name, previous=(latest or {}).get("snapshot"))
        return True

    def _seq_of(self, manifest: dict[str, Any] | None) -> int:
        """A snapshot's sequence in this catalogue's log (-1 for none, or for another catalogue's)."""
        if not manifest or manifest.get("catalogue") != self.store.catalogue_id:
            return -1
        return int(manifest["seq"])

    def clean_temp(self, max_age: float = 600) -> int:
        """Remove temporary files and folders a crashed writer left next to the index (older than `max_age`
        seconds, so a snapshot being written right now by another process is left alone); returns how many."""
        removed = 0
        candidates = list(self.root.glob(".*")) if self.root.exists() else []
        if self.folder.exists():
            candidates += [p for p in self.folder.iterdir() if p.name.startswith(".")]
        for path in candidates:
            if not _is_stale_temp(path, max_age):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        return removed

    def _prune(self, current: str, previous: str | None) -> None:
        """Remove snapshot folders older than the previous one (a loader may still be reading that), and stale
        temporary folders a crash left behind; never a folder newer than the current pointer."""
        floor = int(previous.split("-")[0]) if previous else int(current.split("-")[0])
        for path in self.folder.iterdir():
            if path.name in (current, previous):
                continue
            if path.name.startswith(".tmp-"):
                if time.time() - path.stat().st_mtime > 3600:
                    shutil.rmtree(path, ignore_errors=True)
            elif path.name.split("-")[0].isdigit() and int(path.name.split("-")[0]) < floor:
                shutil.rmtree(path, ignore_errors=True)


def _is_stale_temp(path: Path, max_age: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > max_age
    except FileNotFoundError:
        return False


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Follower(Periodic):
    """A daemon thread that applies the log every `interval` seconds and offers snapshots when due."""

    def __init__(self, catalogue: Callable[[], LiveCatalogue], interval: float) -> None:
        def step() -> None:
            cat = catalogue()
            cat.sync()
            if cat.due():
                cat.snapshot()
        super().__init__("techmatch-follow", interval, step)


class Keeper(Periodic):
    """A daemon thread that keeps what is derived from the indexes in step with the catalogue's size and changes:
    an `auto` index that outgrew the exact kind is retrained, and every item's hubness figure is computed,
    `budget` seconds of work per `interval` (half the time at most, so queries keep a core)."""

    def __init__(self, catalogue: Callable[[], LiveCatalogue | None], interval: float = 1.0,
                 budget: float = 0.5) -> None:
        def step() -> None:
            cat = catalogue()
            if cat is not None:
                cat.retrain_outgrown()
                cat.refresh_hubness(budget)
        super().__init__("techmatch-keeper", interval, step)
