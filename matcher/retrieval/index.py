"""A FAISS vector index per catalogue side, keyed by the store's integer ids, persisted atomically.

`auto` (the default) picks by size when an index is built: exact inner product (`flat`) up to 200k items, above
that an inverted file over 8-bit scalar-quantised vectors (`ivfsq`: a quarter of flat's memory, recall@10 ~0.98 of
exact at nprobe 32 on real e5 vectors, sub-millisecond search at 1M). Both kinds support the live catalogue's
upserts and deletes (graph indexes such as HNSW cannot remove items in FAISS). `ivf` keeps float vectors in the
inverted lists. Vectors are unit length, so inner product is cosine similarity.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

import faiss
import numpy as np

faiss.omp_set_num_threads(1)  # single queries gain nothing from threads and lose to their start-up cost
FORMAT_VERSION = 1
AUTO_FLAT_MAX = 200_000  # above this many items `auto` builds an ivfsq index
KINDS = ("auto", "flat", "ivf", "ivfsq")


def ivf_lists(n: int) -> int:
    """Inverted lists for n items: about sqrt(n) (1,000 at 1M), so nprobe 32 scans ~3 % of the vectors."""
    return int(max(16, min(16384, np.sqrt(n))))


class IndexMismatch(RuntimeError):
    """An index on disk that another encoder or dimension built; the message names the fix."""


def atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, fsync it, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)



def atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """`np.savez` through `atomic_write` (into a file object: numpy would append ".npz" to a temporary name)."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(path, write)

class VectorIndex:
    """Unit vectors by integer id: add (upsert), remove, search, save, load."""

    def __init__(self, dim: int, encoder: str, kind: str = "flat", nprobe: int = 16) -> None:
        self.dim = dim
        self.encoder = encoder
        self.kind = kind
        self.nprobe = nprobe
        self.lock = threading.RLock()
        self.synced_at = ""
        self.version = 0  # bumped on every change, so caches of derived figures (hubness) know when to refresh
        self.generation = 0  # bumped when the whole index is replaced (build): every derived figure is void
        self.edits = 0  # items added, replaced or removed since the last build
        self._touched: dict[int, int] = {}  # id -> `edits` just after its last change
        self.index = self._empty()

    def _empty(self, train: np.ndarray | None = None) -> faiss.Index:
        if self.kind not in KINDS:
            raise ValueError(f"unknown index kind {self.kind!r}; use one of {', '.join(KINDS)}")
        kind = self.kind
        if kind == "auto":
            kind = "ivfsq" if train is not None and len(train) > AUTO_FLAT_MAX else "flat"
        if kind == "flat" or train is None or len(train) < 1000:
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        nlist = ivf_lists(len(train))
        quantizer = faiss.IndexFlatIP(self.dim)
        if kind == "ivfsq":
            index = faiss.IndexIVFScalarQuantizer(quantizer, self.dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                  faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means on a sample of 64 points per list (seeded): minutes saved at 1M, the lists as good
        sample = train
        if len(train) > 64 * nlist:
            rows = np.random.default_rng(0).choice(len(train), 64 * nlist, replace=False)
            sample = train[np.sort(rows)]
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # training is one big job: every core
        try:
            index.train(np.ascontiguousarray(sample))
        finally:
            faiss.omp_set_num_threads(1)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        index.nprobe = self.nprobe
        return index

    @property
    def effective_kind(self) -> str:
        """What the FAISS index in memory is (auto resolved): flat, ivf or ivfsq."""
        if isinstance(self.index, faiss.IndexIVFScalarQuantizer):
            return "ivfsq"
        return "ivf" if isinstance(self.index, faiss.IndexIVF) else "flat"

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def build(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Replace the whole index with these items (trains IVF when chosen)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        with self.lock:
            index = self._empty(vectors if self.kind != "flat" else None)
            keys = np.asarray(ids, dtype=np.int64)
            for start in range(0, len(keys), 100_000):  # in slices: FAISS copies what it is given
                index.add_with_ids(vectors[start:start + 100_000], keys[start:start + 100_000])
            self.index = index
            self.version += 1
            self.generation += 1
            self.edits, self._touched = 0, {}

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Insert or replace items."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if vectors.shape[0] != len(ids):
            raise ValueError(f"{len(ids)} ids but {vectors.shape[0]} vectors")
        with self.lock:
            self.remove(ids)
            if len(ids):
                self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
                self._touch(ids)
            self.version += 1

    def outgrown(self) -> bool:
        """An `auto` index still exact although it now holds more than AUTO_FLAT_MAX items (it grew since it was
        built): `retrain` turns it into the approximate one a build would choose."""
        return self.kind == "auto" and self.effective_kind == "flat" and len(self) > AUTO_FLAT_MAX

    def retrain(self) -> str:
        """Rebuild the index as its kind picks for its current size, from its own vectors, while queries and
        updates go on: copy and training outside the lock, then the items changed meanwhile carried over and the
        new index swapped in under it (the same object: figures derived from it stay). Returns the new kind."""
        with self.lock:
            if not isinstance(self.index, faiss.IndexIDMap2):
                return self.effective_kind  # only an exact index holds its vectors as they were given
            ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
            flat = faiss.downcast_index(self.index.index)
            vectors = faiss.rev_swig_ptr(flat.get_xb(), len(ids) * self.dim).reshape(len(ids), self.dim).copy()
            edits = self.edits
        index = self._empty(vectors)
        for start in range(0, len(ids), 100_000):
            index.add_with_ids(vectors[start:start + 100_000], ids[start:start + 100_000])
        del vectors
        with self.lock:
            changed = np.asarray([i for i, at in self._touched.items() if at > edits], dtype=np.int64)
            if len(changed):  # added, replaced or removed while the copy trained: as they are now
                index.remove_ids(changed)
                now = self.vectors(changed.tolist())
                present = np.flatnonzero(np.any(now != 0, axis=1))
                if len(present):
                    index.add_with_ids(now[present], changed[present])
            self.index = index
            self.version += 1
            return self.effective_kind

    def remove(self, ids: Sequence[int]) -> int:
        """Remove items; unknown ids are ignored. Returns how many were removed."""
        if not len(ids):
            return 0
        with self.lock:
            self.version += 1
            removed = int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))
            if removed:
                self._touch(ids)
            return removed

    def _touch(self, ids: Sequence[int]) -> None:
        self.edits += len(ids)
        self._touched.update(dict.fromkeys((int(i) for i in ids), self.edits))

    def touched_since(self, edits: int) -> np.ndarray:
        """Ids added, replaced or removed after the index had seen `edits` changes."""
        with self.lock:
            return np.fromiter((i for i, at in self._touched.items() if at > edits), dtype=np.int64)

    def changed_after(self, ids: np.ndarray, edits: np.ndarray) -> np.ndarray:
        """Whether each item was added, replaced or removed after the index had seen `edits` changes (per item)."""
        with self.lock:
            last = np.fromiter((self._touched.get(int(i), 0) for i in ids), dtype=np.int64, count=len(ids))
        return last > edits

    def ids(self) -> list[int]:
        """Every id in the index."""
        with self.lock:
            if isinstance(self.index, faiss.IndexIDMap2):
                return faiss.vector_to_array(self.index.id_map).astype(int).tolist()
            invlists = self.index.invlists
            out: list[int] = []
            for lst in range(invlists.nlist):
                size = invlists.list_size(lst)
                if size:
                    ptr = invlists.get_ids(lst)
                    out.extend(faiss.rev_swig_ptr(ptr, size).astype(int).tolist())
            return out

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these ids (rows of zeros for ids not in the index)."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        with self.lock:
            for row, item in enumerate(ids):
                with contextlib.suppress(RuntimeError):  # an id not in the index keeps its row of zeros
                    out[row] = self.index.reconstruct(int(item))
        return out

    def scores_all(self, queries: np.ndarray, excluded: Collection[int] = ()) -> np.ndarray | None:
        """Inner products of each query row with every stored vector (columns in storage order), by one BLAS
        product over the flat index's own memory, -inf in the columns of `excluded` ids; None for IVF, whose
        vectors are not stored in one block."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self.lock:
            if not isinstance(self.index, faiss.IndexIDMap2):
                return None
            flat = faiss.downcast_index(self.index.index)
            n = int(flat.ntotal)
            if n == 0:
                return np.zeros((len(queries), 0), dtype=np.float32)
            stored = faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim)  # a view, no copy
            out = queries @ stored.T
            if excluded:
                ids = faiss.vector_to_array(self.index.id_map)
                out[:, np.isin(ids, np.fromiter(excluded, dtype=np.int64, count=len(excluded)))] = -np.inf
            return out

    def search(self, queries: np.ndarray, k: int, allowed: Sequence[int] | None = None,
               excluded: Collection[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the k nearest items per query row; ids are -1 where fewer exist.

        `allowed` restricts the search to those ids (hard filters), `excluded` leaves those out, inside FAISS.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self.lock:
            k = max(1, min(k, len(self) or 1))
            params = None
            selector = inner = None  # both referenced here until the search is over
            if allowed is not None:
                selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            elif excluded:
                inner = faiss.IDSelectorBatch(np.fromiter(excluded, dtype=np.int64, count=len(excluded)))
                selector = faiss.IDSelectorNot(inner)
            if selector is not None:
                params = (faiss.SearchParametersIVF(sel=selector, nprobe=self.nprobe)
                          if isinstance(self.index, faiss.IndexIVF) else faiss.SearchParameters(sel=selector))
            elif isinstance(self.index, faiss.IndexIVF):
                params = faiss.SearchParametersIVF(nprobe=self.nprobe)
            scores, ids = self.index.search(queries, k, params=params)
        return scores, ids

    # -- persistence ----------------------------------------------------------------------
    def serialize(self) -> np.ndarray:
        """The FAISS index as bytes (a consistent copy, taken under the lock)."""
        with self.lock:
            return faiss.serialize_index(self.index)

    @classmethod
    def read(cls, path: Path, dim: int, encoder: str, kind: str = "flat", nprobe: int = 16) -> VectorIndex:
        """An index from a file written from `serialize()`'s bytes, read straight into FAISS (one copy in memory,
        not three: at 1M flat vectors that is 1.5 GiB at peak instead of 4.4 GiB, and 5x faster)."""
        index = cls(dim, encoder, kind, nprobe)
        index.index = faiss.read_index(str(path))
        if isinstance(index.index, faiss.IndexIVF):
            index.index.nprobe = nprobe
        return index

    def config(self) -> dict:
        return {"format": FORMAT_VERSION, "encoder": self.encoder, "dim": self.dim, "kind": self.kind,
                "count": len(self), "synced_at": self.synced_at}

    def save(self, folder: Path, side: str, synced_at: str | None = None) -> None:
        """Write `<side>.faiss` and `<side>.config.json` atomically (a reader sees old or new, never half).

        `synced_at` is the newest store timestamp the index reflects; on load, rows changed later are re-indexed.
        """
        with self.lock:
            if synced_at is not None:
                self.synced_at = synced_at
            data = faiss.serialize_index(self.index)
            cfg = self.config()
        atomic_write(folder / f"{side}.faiss", lambda p: Path(p).write_bytes(data.tobytes()))
        atomic_write(folder / f"{side}.config.json",
                      lambda p: Path(p).write_text(json.dumps(cfg, indent=2), "utf-8"))

    @classmethod
    def load(cls, folder: Path, side: str, encoder: str, dim: int, nprobe: int = 16) -> VectorIndex | None:
        """The saved index of a side, or None when there is none; refuses one built by another encoder."""
        path, cfg_path = folder / f"{side}.faiss", folder / f"{side}.config.json"
        if not path.exists() or not cfg_path.exists():
            return None
        cfg = json.loads(cfg_path.read_text("utf-8"))
        if cfg.get("encoder") != encoder or int(cfg.get("dim", -1)) != dim:
            raise IndexMismatch(
                f"the {side} index in {folder} was built by encoder {cfg.get('encoder')!r} (dim {cfg.get('dim')}),"
                f" not {encoder!r} (dim {dim}): run `techmatch index --rebuild` to rebuild it for this encoder"
            )
        index = cls(dim, encoder, cfg.get("kind", "flat"), nprobe)
        index.index = faiss.deserialize_index(np.frombuffer(path.read_bytes(), dtype=np.uint8))
        index.synced_at = cfg.get("synced_at", "")
        if isinstance(index.index, faiss.IndexIVF):
            index.index.nprobe = nprobe
        return index
