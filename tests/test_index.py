"""The FAISS index: incremental updates, filtered search, atomic persistence and refusal of foreign indexes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matcher.retrieval.index import IndexMismatch, VectorIndex


def unit(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivfsq", "auto"])
def test_add_search_update_remove(kind):
    vecs = unit(2000)
    ix = VectorIndex(16, "enc", kind)
    ix.build(list(range(10, 2010)), vecs)
    scores, ids = ix.search(vecs[:3], 1)
    tolerance = 1e-2 if kind == "ivfsq" else 1e-5  # 8-bit codes: scores within a percent
    assert ids[:, 0].tolist() == [10, 11, 12] and np.allclose(scores[:, 0], 1.0, atol=tolerance)
    # upsert: id 10 now points at another vector
    ix.add([10], vecs[5:6])
    assert len(ix) == 2000
    np.testing.assert_allclose(ix.vectors([10])[0], vecs[5], atol=1e-2 if kind == "ivfsq" else 1e-6)
    assert ix.remove([11, 99999]) == 1 and len(ix) == 1999
    assert 11 not in ix.search(vecs[1:2], 5)[1][0].tolist()
    assert sorted(ix.ids())[:3] == [10, 12, 13]


def clustered(n: int, dim: int = 64, centres: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors around topic centres, like listings' embeddings (random ones have no neighbourhoods)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    v = c[rng.integers(0, centres, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_auto_picks_exact_search_for_small_and_ivfsq_for_large_catalogues(monkeypatch, tmp_path):
    from matcher.retrieval import index as index_module

    vecs = clustered(6000)
    small = VectorIndex(64, "enc", "auto")
    small.build(list(range(6000)), vecs)
    assert small.effective_kind == "flat"
    monkeypatch.setattr(index_module, "AUTO_FLAT_MAX", 5000)
    big = VectorIndex(64, "enc", "auto", nprobe=8)
    big.build(list(range(6000)), vecs)
    assert big.effective_kind == "ivfsq"
    # recall@10 against exact search on 200 queries
    queries = clustered(200, seed=1)
    exact = small.search(queries, 10)[1]
    approx = big.search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.9, recall
    # a quarter of the memory, and it survives a write to disk and a read back
    assert len(big.serialize()) < 0.4 * len(small.serialize())
    path = tmp_path / "results.faiss"
    path.write_bytes(big.serialize().tobytes())
    back = VectorIndex.read(path, 64, "enc", "auto", nprobe=8)
    assert back.effective_kind == "ivfsq" and (back.search(queries, 10)[1] == approx).all()


def test_an_auto_index_that_outgrew_exact_search_is_retrained_in_place_keeping_changes_made_meanwhile(monkeypatch):
    from matcher.retrieval import index as index_module

    vecs = clustered(6000)
    idx = VectorIndex(64, "enc", "auto", nprobe=16)
    idx.build(list(range(5000)), vecs[:5000])
    monkeypatch.setattr(index_module, "AUTO_FLAT_MAX", 5500)
    assert not idx.outgrown()
    idx.add(list(range(5000, 5800)), vecs[5000:5800])  # grew past the limit online
    assert idx.outgrown() and idx.effective_kind == "flat"
    train = idx._empty

    def meanwhile(sample):  # writes land while the copy trains (outside the lock)
        built = train(sample)
        idx.add([5900, 3], vecs[[5900, 5901]])  # a new item and a replaced one
        idx.remove([7, 8])
        return built

    monkeypatch.setattr(idx, "_empty", meanwhile)
    version, generation = idx.version, idx.generation
    assert idx.retrain() == "ivfsq" and idx.effective_kind == "ivfsq" and not idx.outgrown()
    assert idx.version > version and idx.generation == generation  # the same object: derived figures stay
    assert sorted(idx.ids()) == sorted(set(range(5800)) - {7, 8} | {5900})
    got = idx.vectors([3, 5900, 7])
    assert np.allclose(got[:2], vecs[[5901, 5900]], atol=0.02) and not got[2].any()  # 8-bit: close, not equal
    _, found = idx.search(vecs[[5901, 5900]], 1)
    assert found[:, 0].tolist() == [3, 5900]


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
