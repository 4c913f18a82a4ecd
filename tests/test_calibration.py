"""Match confidence: a calibrated 0–1 probability fitted on graded judgements, used by the service and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matcher.learning import calibration
from matcher.learning.evaluation import calibration_pairs, corpus_lexical, load_benchmark, prepare
from matcher.retrieval.ranking import Scored

from .conftest import FIXTURES, make_settings, shared_path
from .test_cli import _mini_benchmark, run


def test_fit_recovers_a_known_probability_and_reports_grouped_cv(tmp_path):
    rng = np.random.default_rng(1)
    n = 3000
    x = rng.normal(size=(n, len(calibration.FEATURES)))
    p_true = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0)))
    y = (rng.random(n) < p_true).astype(int)
    model = calibration.fit(x, y, np.repeat(np.arange(100), 30), "toy", "synthetic")
    assert model.weights[0] == pytest.approx(2.0, abs=0.3) and abs(model.weights[1]) < 0.3
    cv = model.meta["cv"]
    assert cv["ece"] < 0.03 and cv["auc"] > 0.8 and model.meta["folds"] == 5
    assert all(abs(r["predicted"] - r["observed"]) < 0.1 for r in model.meta["reliability"] if r["pairs"] > 100)
    model.save(tmp_path)
    back = calibration.load(tmp_path, "toy")
    assert back is not None and np.allclose(back.predict(x[:5]), model.predict(x[:5]))
    assert calibration.load(tmp_path, "another-encoder") is None  # a model is only used with its encoder
    assert calibration.load(tmp_path, "e5-small-q4") is calibration.DEFAULTS["e5-small-q4"]
    with pytest.raises(ValueError, match="both relevant and non-relevant"):
        calibration.fit(x, np.zeros(n), np.repeat(np.arange(100), 30), "toy")


def test_features_measure_each_item_against_the_best_candidate():
    items = [Scored(1, 1.0, {"dense": 0.90, "lexical": 40.0, "hubness": 0.80}),
             Scored(2, 0.5, {"dense": 0.85, "lexical": 10.0, "hubness": 0.60})]
    f = calibration.features(items)
    assert f[:, 0] == pytest.approx([0.50, 0.55])  # dense less half the hubness
    assert f[:, 1] == pytest.approx([-0.05, 0.0]) and f[:, 2] == pytest.approx([1.0, 0.25])
    calibration.attach(items, calibration.DEFAULTS["e5-small-q4"])
    assert 0 < items[0].components["confidence"] < 1


def test_matches_and_batch_candidates_carry_a_calibrated_confidence(fresh_service):
    s = fresh_service
    s.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    s.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    need = s.store.find("needs", ref="T-N01")
    matches = s.matching.match_need(need["id"], top_k=5)
    conf = [m.confidence for m in matches]
    assert all(c is not None and 0 <= c <= 1 for c in conf)
    assert matches[0].item["ref"] == "T-R01" and conf[0] == max(conf)  # the right result is the surest
    assert all(m.confidence is None for m in s.matching.match_need(need["id"], top_k=3, method="lexical"))
    s.batches.run_now(top_k=3)
    stored = s.store.rows("candidates", "need_id = ?", [need["id"]])
    assert {round(r["confidence"], 4) for r in stored} <= {round(c, 4) for c in conf}


def test_calibrate_command_fits_saves_and_the_service_uses_it(tmp_path, e5_encoder):
    from matcher.app import App

    _mini_benchmark(tmp_path / "bench")
    out = run("calibrate", "--benchmark", str(tmp_path / "bench"), "--data-dir", str(tmp_path / "d"))
    assert out.exit_code == 0, out.output
    saved = json.loads((tmp_path / "d" / "index" / "calibration.json").read_text())
    assert saved["encoder"] == "e5-small-q4" and saved["meta"]["pairs"] == 15 and saved["meta"]["positives"] == 5
    service = App(make_settings(tmp_path / "d"), encoder=e5_encoder)
    assert service.learning.calibration.weights == saved["weights"]
    bad = run("calibrate", "--benchmark", str(tmp_path), "--data-dir", str(tmp_path / "d"))
    assert bad.exit_code == 2 and "not a benchmark folder" in bad.output


@pytest.mark.slow
def test_the_default_confidence_is_calibrated_on_bdci_dev(request, e5_encoder):
    """Cross-validated on the real judgements: predicted confidence tracks the observed share of relevant pairs."""
    bench = load_benchmark(shared_path("eval", "bdci-dev"))
    settings = make_settings(request.config.cache.mkdir("techmatch-eval"))
    from embeddings import CachedEncoder

    prepared = prepare(bench, CachedEncoder(e5_encoder, settings.cache_path), corpus_lexical(bench, settings))
    x, y, groups = calibration_pairs(bench, prepared, "hybrid")
    model = calibration.fit(x, y, groups, "e5-small-q4", bench.name)
    assert model.meta["cv"]["ece"] < 0.03 and model.meta["cv"]["auc"] > 0.68
    default = calibration.DEFAULTS["e5-small-q4"]
    assert np.allclose(model.weights, default.weights, atol=0.05)  # the bundled default is this fit
    p = default.predict(x)
    assert abs(p.mean() - y.mean()) < 0.02
