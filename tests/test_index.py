"""The FAISS index: incremental updates, filtered search, atomic persistence and refusal of foreign indexes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matcher.retrieval.index import IndexMismatch, VectorIndex


def unit(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_add_search_update_remove(kind):
    vecs = unit(2000)
    ix = VectorIndex(16, "enc", kind)
    ix.build(list(range(10, 2010)), vecs)
    scores, ids = ix.search(vecs[:3], 1)
    assert ids[:, 0].tolist() == [10, 11, 12] and np.allclose(scores[:, 0], 1.0, atol=1e-5)
    # upsert: id 10 now points at another vector
    ix.add([10], vecs[5:6])
    assert len(ix) == 2000
    np.testing.assert_allclose(ix.vectors([10])[0], vecs[5], atol=1e-6)
    assert ix.remove([11, 99999]) == 1 and len(ix) == 1999
    assert 11 not in ix.search(vecs[1:2], 5)[1][0].tolist()
    assert sorted(ix.ids())[:3] == [10, 12, 13]


def test_filtered_search_stays_inside_allowed_ids():
    vecs = unit(50)
    ix = VectorIndex(16, "enc")
    ix.add(list(range(50)), vecs)
    _, ids = ix.search(vecs[:1], 10, allowed=[3, 7, 9])
    assert set(ids[0][ids[0] >= 0].tolist()) == {3, 7, 9}


def test_save_load_round_trip_is_atomic_and_recorded(tmp_path):
    vecs = unit(30)
    ix = VectorIndex(16, "enc")
    ix.add(list(range(30)), vecs)
    ix.save(tmp_path, "results", synced_at="2026-01-01T00:00:00+00:00")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.config.json", "results.faiss"]
    cfg = json.loads((tmp_path / "results.config.json").read_text())
    assert cfg["encoder"] == "enc" and cfg["dim"] == 16 and cfg["count"] == 30
    back = VectorIndex.load(tmp_path, "results", "enc", 16)
    assert len(back) == 30 and back.synced_at == "2026-01-01T00:00:00+00:00"
    np.testing.assert_array_equal(back.search(vecs[:2], 3)[1], ix.search(vecs[:2], 3)[1])


def test_load_refuses_an_index_built_by_another_encoder(tmp_path):
    VectorIndex(16, "enc").save(tmp_path, "needs")
    with pytest.raises(IndexMismatch, match="techmatch index --rebuild"):
        VectorIndex.load(tmp_path, "needs", "other-encoder", 16)
    with pytest.raises(IndexMismatch):
        VectorIndex.load(tmp_path, "needs", "enc", 32)
    assert VectorIndex.load(tmp_path, "results", "enc", 16) is None


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    ix = VectorIndex(16, "enc")
    ix.add([1], unit(1))
    ix.save(tmp_path, "results")
    before = (tmp_path / "results.faiss").read_bytes()
    ix.add([2], unit(1, seed=1))

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        ix.save(tmp_path, "results")
    monkeypatch.undo()
    assert (tmp_path / "results.faiss").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.config.json", "results.faiss"]
