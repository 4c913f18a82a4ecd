"""The cross-encoder reranker (`techmatch tune --mode cross-encoder`, method hybrid-ce): untrained it is the
bi-encoder, training moves it towards the judgements, its file round-trips and refuses another base model, and
`tune`, `match`, `eval`, batch runs and the API use it once installed."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from embeddings.e5_float import FloatE5Encoder
from matcher.learning import cross_encoder
from matcher.learning.cross_encoder import CrossEncoder, Group, Unusable
from matcher.learning.models import Models

from .conftest import make_settings

NEEDS = ["齿轮寿命不足，希望提高表面硬度", "锂电池冬季续航下降明显", "印染废水色度高难以达标", "茶园病虫害识别靠人工",
         "桥梁裂缝巡检效率低", "柑橘保鲜期短损耗大"]


@pytest.fixture(scope="module")
def base(float_model) -> FloatE5Encoder:
    return FloatE5Encoder(float_model)


def _cos(base: FloatE5Encoder, need: str, listings: list[str]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        q = torch.nn.functional.normalize(base.forward(base.ids([need], True, cross_encoder.NEED_TOKENS)), dim=-1)
        d = torch.nn.functional.normalize(base.forward(base.ids(listings, False, cross_encoder.LISTING_TOKENS)),
                                          dim=-1)
    return (d @ q.T).numpy().ravel()


def test_an_untrained_cross_encoder_is_the_bi_encoder(base):
    """Gates at 0 and a zero read-out: attention stays within each text, so the score is 20 × the bi-encoder's
    cosine of the need (query, 128 tokens) and each listing (passage, 64 tokens) — long texts included."""
    model = CrossEncoder(base)
    listings = ["齿轮激光淬火工艺", "低温锂电池电解液添加剂" * 20, "印染废水臭氧脱色", "茶叶加工"]
    for need in (NEEDS[0], NEEDS[1] * 30):
        got = model.score([need] * len(listings), listings)
        assert np.allclose(got, 20 * _cos(base, need, listings), atol=2e-4), (got, _cos(base, need, listings))
    assert model.score([], []).shape == (0,)


def _groups(marker: str, needs: list[str]) -> list[Group]:
    """Each need's relevant listing carries a marker phrase the bi-encoder does not favour; the others are close
    paraphrases of the need itself (what the bi-encoder ranks first)."""
    out = []
    for i, need in enumerate(needs):
        other = NEEDS[(i + 1) % len(NEEDS)]
        out.append(Group(need, [f"{need}的研究", f"{need}的分析方法", f"{other}的解决方案，{marker}",
                                f"{need}，{marker}", f"{other}研究"], [0, 0, 0, 3, 0]))
    return out


def _mrr(model: CrossEncoder, groups: list[Group]) -> float:
    out = []
    for g in groups:
        scores = model.score([g.need] * len(g.listings), g.listings)
        out.append(1.0 / (1 + int(np.sum(scores > scores[g.grades.index(3)]))))
    return float(np.mean(out))


def test_training_learns_the_judgements_and_the_file_round_trips(base, tmp_path):
    """Trained on needs whose relevant listing carries a marker, held-out needs rank their marked listing higher
    than the untrained model does; the saved delta gives the same scores when loaded, carries its manifest, and is
    refused on another base model; a list without any relevant listing is refused."""
    marker = "已在三家企业中试并量产，提供技术许可"
    train, held = _groups(marker, NEEDS[:4]), _groups(marker, NEEDS[4:])
    model = CrossEncoder(base)
    before = _mrr(model, held)
    stats = cross_encoder.train(model, train, epochs=6)
    assert stats["needs"] == 4 and stats["cpu_s"] > 0
    after = _mrr(model, held)
    assert after > before + 0.2, (before, after)
    model.meta["trained_on"] = {"benchmark": "toy"}
    path = model.save(tmp_path)
    back = CrossEncoder.load(tmp_path, lambda: base)
    assert back is not None and back.meta["name"] == model.name() and back.meta["trained_on"] == {"benchmark": "toy"}
    pairs = ([held[0].need] * 5, held[0].listings)
    assert np.allclose(back.score(*pairs), model.score(*pairs), atol=1e-5)
    renamed = FloatE5Encoder(base.folder)
    renamed.name = "e5-small-f32-another"
    with pytest.raises(Unusable, match=r"trained on e5-small-f32-.* not on e5-small-f32-another"):
        CrossEncoder.load(tmp_path, lambda: renamed)  # trained on another base: never applied
    models = Models(tmp_path, lambda: "e5", lambda: renamed)
    assert models.cross_encoder is None and "train it again" in models.cross_encoder_error
    assert path.name == cross_encoder.FILE and CrossEncoder.load(tmp_path / "nothing", lambda: base) is None
    with pytest.raises(ValueError, match="no judged need"):
        cross_encoder.train(model, [Group("x", ["y"], [0])])


def test_rerank_reorders_the_head_and_keeps_the_scale(base):
    """Only the first `depth` candidates move; they keep the hybrid's score values in their new order (boosts and
    thresholds read as before) and carry the cross-encoder's score."""
    from matcher.retrieval.ranking import Scored

    model = CrossEncoder(base)
    listings = ["茶叶加工", "齿轮表面激光淬火提高硬度", "锂电池", "污水", "桥梁"]
    scored = [Scored(i, 0.9 - 0.1 * i, {"dense": 0.5}) for i in range(5)]
    out = cross_encoder.rerank(scored, [NEEDS[0]] * 5, listings, model, depth=3, beta=100.0)
    assert [s.score for s in out] == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.5])
    assert out[0].id == 1 and {s.id for s in out[:3]} == {0, 1, 2} and [s.id for s in out[3:]] == [3, 4]
    assert all("cross" in s.components for s in out[:3]) and "cross" not in out[3].components
    assert {s.id: s.components["hybrid"] for s in out[:3]} == pytest.approx({0: 0.9, 1: 0.8, 2: 0.7})


def test_tune_installs_a_cross_encoder_that_match_eval_batches_and_the_api_use(mini_service, tmp_path,
                                                                               float_model):
    """--mode cross-encoder on the mini catalogue's judged benchmark: cross-validated beside the method alone,
    installed with --force; then method hybrid-ce re-ranks in match (scores carry the cross-encoder's), eval
    reports it, batch runs default to it, another process on the same folder picks it up, and before it exists
    hybrid-ce is a clear error."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from matcher.app import App
    from matcher.errors import Invalid
    from matcher.learning.evaluation import evaluate

    from .test_tune import _judged_mini_benchmark

    bench = _judged_mini_benchmark(mini_service, tmp_path / "bench")
    settings = make_settings(tmp_path / "data", model_dir=float_model)
    service = App(settings, encoder=mini_service.indexes.encoder)
    other = App(settings, encoder=mini_service.indexes.encoder)
    service.catalogue.add_result({"title": "齿轮激光淬火工艺", "abstract": "提高齿轮表面硬度"})
    service.catalogue.add_result({"title": "茶叶揉捻机", "abstract": "茶叶加工设备"})
    # (texts of its own: the session's embedding cache is shared, and other tests check what it has not seen)
    need = service.catalogue.add_need({"title": "变速箱齿轮磨损过快", "description": "希望采用齿面淬火工艺"})["id"]
    with pytest.raises(Invalid, match="tune --mode cross-encoder"):
        service.matching.match_need(need, method="hybrid-ce")
    assert other.indexes.live.sides and other.models.cross_encoder is None  # a running process: none (remembered)
    assert service.matching.batch_method() == "hybrid"
    report = service.learning.tune(bench, folds=2, force=True, mode="cross-encoder")
    assert report["mode"] == "cross-encoder" and report["installed"] and report["model"].startswith("ce-")
    assert report["without"]["queries"] == report["with"]["all"]["queries"] > 0
    assert (settings.index_dir / cross_encoder.FILE).exists()
    matches = service.matching.match_need(need, method="hybrid-ce", top_k=2)
    assert matches[0].item["title"] == "齿轮激光淬火工艺" and "cross" in matches[0].components
    assert service.matching.batch_method() == "hybrid-ce"
    assert other.indexes.live.sides and other.models.cross_encoder is not None  # it followed the change log
    assert other.matching.match_need(need, method="hybrid-ce", top_k=1)[0].components["cross"] == \
        matches[0].components["cross"]
    run = service.batches.run_now(top_k=2)
    assert run["method"] == "hybrid-ce"
    figures = evaluate(bench, settings, methods=["hybrid", "hybrid-ce"], encoders=[settings.encoder])
    assert set(figures) >= {"hybrid", "hybrid-ce"} and figures["hybrid-ce"]["queries"] == figures["hybrid"]["queries"]
    with TestClient(create_app(settings, service=service)) as client:
        res = client.post("/search", json={"text": "齿轮表面淬火", "side": "results", "method": "hybrid-ce",
                                           "top_k": 2})
    assert res.status_code == 200, res.text
    assert res.json()["method"] == "hybrid-ce" and "cross" in res.json()["items"][0]["components"]
    service.close()
    other.close()
