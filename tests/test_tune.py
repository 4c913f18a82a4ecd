"""`techmatch tune`: the query adapter — fitted on judgements, cross-validated by need, installed only when it helps,
then used by match and eval alike."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matcher.learning.adapter import Adapter, Example, fit
from matcher.learning.tuning import MIN_GAIN, folds_of

from .conftest import make_settings


def _unit(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def test_the_adapter_learns_which_dimension_separates_relevant_listings(tmp_path):
    """Relevant listings share dimension 0 with their need; others look alike on the rest: the fitted weights
    stress dimension 0, held-out needs rank their listing first more often, and the file round-trips."""
    rng = np.random.default_rng(1)
    dim = 8

    def need():
        q = rng.normal(size=dim)
        pos = q.copy()
        pos[1:] = rng.normal(size=dim - 1)  # shares only dimension 0 with the need
        neg = q.copy()
        neg[0] = -q[0]  # shares everything else
        return _unit(q[None]), _unit(pos[None]), _unit(neg[None])

    train = [Example(q, p, np.ones(1), n) for q, p, n in (need() for _ in range(60))]
    model = fit(train, "toy", lam=1e-4, tau=0.1)
    weight = np.abs(1 + model.scale)
    assert weight[0] > weight[1:].max()  # dimension 0 counts most in the adapted query
    held = [need() for _ in range(200)]
    def wins(m):
        return np.mean([float((m(q) @ p.T)[0, 0] > (m(q) @ n.T)[0, 0]) for q, p, n in held])
    assert wins(model.apply) > wins(lambda q: q) + 0.2
    assert np.allclose(np.linalg.norm(model.apply(np.ones((3, dim))), axis=1), 1.0)
    model.save(tmp_path)
    back = Adapter.load(tmp_path, "toy")
    assert back is not None and np.allclose(back.scale, model.scale) and back.trained_on["needs"] == 60
    assert Adapter.load(tmp_path, "another-encoder") is None  # never applied to another encoder's vectors


def test_folds_hold_every_need_once():
    from types import SimpleNamespace

    bench = SimpleNamespace(queries=[{"id": str(i)} for i in range(23)])
    folds = folds_of(bench, 5)
    assert sorted(i for f in folds for i in f) == list(range(23)) and all(4 <= len(f) <= 5 for f in folds)


def _judged_mini_benchmark(service, folder):
    """The mini catalogue as a judged benchmark: each need's two best matches, the first relevant."""
    from matcher.learning.evaluation import load_benchmark

    from .test_evaluation import _catalogue_as_benchmark

    bench = _catalogue_as_benchmark(service, folder)
    answers = [(q["id"], m.item["ref"]) for q in bench.queries
               for m in service.matching.match_need(service.catalogue.find_by_ref("needs", q["id"])["id"], top_k=2)]
    (folder / "qrels.tsv").write_text("query_id\tdoc_id\trelevance\n" + "".join(
        f"{q}\t{d}\t{3 if i % 2 == 0 else 0}\n" for i, (q, d) in enumerate(answers)))
    return load_benchmark(folder)


def test_tune_cross_validates_installs_only_a_clear_gain_and_match_and_eval_use_it(mini_service, tmp_path):
    """On the demo catalogue exported as a judged benchmark (each need's demo answer relevant): the report holds
    the untuned and cross-validated figures per training size; without a clear gain nothing is installed, with
    --force the adapter is installed, the change log tells other processes, and match and eval apply it."""
    from typer.testing import CliRunner

    from matcher.app import App
    from matcher.cli import app
    from matcher.learning.evaluation import evaluate

    s = mini_service
    folder = tmp_path / "bench"
    bench = _judged_mini_benchmark(s, folder)
    data = tmp_path / "data"
    data.mkdir()
    run = CliRunner().invoke(app, ["tune", "--benchmark", str(folder), "--folds", "3", "--mode", "adapter", "--json",
                                   "--data-dir", str(data)])
    assert run.exit_code == 0, run.output
    report = json.loads(run.output[run.output.index("{"):])
    assert set(report["with"]) == {"25", "50", "all"} and report["without"]["queries"] == len(bench.queries)
    assert report["installed"] == (report["gain"] > MIN_GAIN)
    (data / "index" / "adapter.npz").unlink(missing_ok=True)
    service = App(make_settings(data))
    other = App(make_settings(data))  # another process on the same folder
    assert other.indexes.live is not None and other.models.adapter is None  # read: none installed
    forced = service.learning.tune(bench, folds=3, force=True)
    assert forced["installed"] and (data / "index" / "adapter.npz").exists()
    assert other.models.adapter is None  # still its first reading …
    assert other.indexes.live is not None and other.models.adapter is not None  # … until the log's notice is applied
    with_adapter = evaluate(bench, service.settings, methods=["hybrid"], encoders=[service.settings.encoder])
    (data / "index" / "adapter.npz").unlink()
    without = evaluate(bench, service.settings, methods=["hybrid"], encoders=[service.settings.encoder])
    assert with_adapter["hybrid"] != without["hybrid"] or forced["gain"] == pytest.approx(0.0, abs=1e-4)
    q = service.matching.matcher.text_query("齿轮热处理")
    service.learning.install_model(Adapter(np.linspace(-0.5, 0.5, q.vectors.shape[1]).astype(np.float32),
                                           service.indexes.encoder.name, {}))
    adapted = service.matching.matcher.text_query("齿轮热处理")
    assert not np.allclose(adapted.vectors, q.vectors) and np.isclose(np.linalg.norm(adapted.vectors), 1.0)
    service.close()
    other.close()


def test_fine_tuning_the_top_layers_is_cross_validated_installed_and_replaces_the_encoder(mini_service, tmp_path):
    """--mode top-layers: folds fine-tuned from the stock float model each time, the untuned float figures beside;
    with --force the model is trained on every judged need, saved under a new versioned name in the data folder,
    and this data folder's e5 is then that model (eval and match rank with it)."""
    pytest.importorskip("torch")
    from matcher.app import App
    from matcher.learning.evaluation import evaluate

    bench = _judged_mini_benchmark(mini_service, tmp_path / "bench")
    service = App(make_settings(tmp_path / "data"))
    service.catalogue.add_result({"title": "齿轮激光淬火工艺", "abstract": "提高齿轮表面硬度"})  # a catalogue to re-encode
    service.catalogue.add_need({"title": "齿轮寿命不足", "description": "希望引入表面淬火技术"})
    calls = []
    report = service.learning.tune(bench, folds=2, force=True, mode="top-layers", progress=lambda d, n: calls.append((d, n)))
    assert report["mode"] == "top-layers" and report["installed"] and report["without"]["queries"] > 0
    assert set(report["with"]) == {"all"} and report["with"]["all"]["fit_cpu_s"] >= 0
    tuned = json.loads((tmp_path / "data" / "models" / "tuned" / "manifest.json").read_text("utf-8"))
    stock = json.loads((tmp_path / "data" / "models" / "e5-small-f32" / "manifest.json").read_text("utf-8"))
    assert tuned["name"] == report["model"] != stock["name"] and tuned["trained_on"]["benchmark"] == bench.name
    assert service.indexes.encoder.name == tuned["name"]
    assert report["reindexed"] == {"needs": 1, "results": 1} and calls  # re-encoded with it, with progress
    assert {side.dense.encoder for side in service.indexes.live.sides.values()} == {tuned["name"]}
    assert service.matching.match_need(service.catalogue.list_listings("needs")[0][0]["id"], top_k=1)[0].item["title"] == "齿轮激光淬火工艺"
    figures = evaluate(bench, service.settings, methods=["hybrid"], encoders=[service.settings.encoder])
    assert figures["hybrid"]["queries"] == report["without"]["queries"]
    service.close()


def _decided_service(s):
    """The mini catalogue with every batch candidate decided by a broker who knows the right answers."""

    from .conftest import FIXTURES
    from .test_learn import EXPECTED

    s.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    s.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    s.batches.run_now(top_k=5)
    refs = {r["id"]: r["ref"] for r in s.store.rows("needs")}
    rrefs = {r["id"]: r["ref"] for r in s.store.rows("results")}
    return [(cand, EXPECTED[refs[cand["need_id"]]] == rrefs[cand["result_id"]])
            for cand in s.queue.list_candidates(limit=200)[0]]


def test_brokers_decisions_are_judged_pairs_for_tune(fresh_service, tmp_path):
    """Confirmed candidates become relevant judgements, rejected ones judged non-relevant, for the needs brokers
    decided on, over the whole catalogue; `tune --decisions` cross-validates on them (alone or beside a benchmark
    folder, ids kept apart), and refuses with a reason while nothing is confirmed."""
    from typer.testing import CliRunner

    from matcher.cli import app
    from matcher.errors import Invalid
    from matcher.learning.judgements import combine, decisions_benchmark

    s = fresh_service
    decided = _decided_service(s)
    for cand, good in decided:
        if not good:
            s.queue.decide(cand["id"], "reject", "off_topic")
    with pytest.raises(Invalid, match="no confirmed candidate"):
        decisions_benchmark(s.store)
    for cand, good in decided:
        if good:
            s.queue.decide(cand["id"], "confirm")
    bench = decisions_benchmark(s.store)
    # the confidential need's decisions are left out: a model every caller is served by learns no hidden text
    secret = s.catalogue.find_by_ref("needs", "T-N04")["id"]
    public = [(c, g) for c, g in decided if c["need_id"] != secret]
    assert len(bench.corpus) == s.store.count("results") and len(bench.queries) == 4
    assert str(secret) not in {q["id"] for q in bench.queries}
    grades = sorted(g for q in bench.qrels.values() for g in q.values())
    assert grades.count(2) == 4 and grades.count(0) == len(public) - 4
    for q in bench.queries:  # the confirmed result is the one the broker knew was right
        right = [d for d, g in bench.qrels[q["id"]].items() if g == 2]
        assert len(right) == 1 and q["title"] == s.store.get("needs", int(q["id"]))["title"]
    binary = {q: {d: int(g > 0) for d, g in docs.items()} for q, docs in bench.qrels.items()}
    both = combine(bench, bench.__class__("other", bench.queries, bench.corpus, binary, 1))
    assert len({q["id"] for q in both.queries}) == 8 and len({d["id"] for d in both.corpus}) == 2 * len(bench.corpus)
    assert max(g for q in both.qrels.values() for g in q.values()) == 2  # binary judgements lifted to the scale
    report = s.learning.tune(decisions=True, folds=2, mode="adapter")
    assert report["benchmark"] == "decisions" and report["without"]["queries"] == 4
    assert report["installed"] == (report["gain"] > MIN_GAIN)
    run = CliRunner().invoke(app, ["tune", "--data-dir", str(tmp_path / "empty")])
    assert run.exit_code == 2 and "--decisions" in run.output


def test_lora_and_full_fine_tuning_change_what_they_should(tmp_path):
    """top-layers leaves the lower layers alone; full trains them too; LoRA's low-rank updates are merged into the
    weights afterwards (a plain BERT with the stock model's tensors, servable like any other); no mode touches the
    word embeddings; a judged non-relevant listing joins the batch as a hard negative."""
    pytest.importorskip("torch")
    from embeddings.e5_float import FloatE5Encoder, convert
    from matcher.learning import finetune
    from matcher.learning.evaluation import Benchmark

    convert(tmp_path / "f32")
    encoder = FloatE5Encoder(tmp_path / "f32")
    bench = Benchmark("t", [{"id": f"n{i}", "title": t, "description": "", "exclude": set()}
                            for i, t in enumerate(["齿轮寿命不足", "锂电池低温衰减", "污水除磷"])],
                      [{"id": f"r{i}", "title": t, "abstract": ""}
                       for i, t in enumerate(["齿轮激光淬火", "低温电解液", "化学除磷工艺", "茶叶加工"])],
                      {"n0": {"r0": 3, "r3": 0}, "n1": {"r1": 2}, "n2": {"r2": 3, "r3": 0}})
    pairs = finetune.benchmark_pairs(bench, range(3))
    assert [p[3] for p in pairs] == ["茶叶加工", "", "茶叶加工"]
    assert all(not p[3] for p in finetune.benchmark_pairs(bench, range(3), negatives=False))
    stock = finetune.snapshot(encoder)
    keys = set(encoder.model.state_dict())
    lowest, top, words = "encoder.layer.0.attention.self.query.weight", "encoder.layer.11.output.dense.weight", \
        "embeddings.word_embeddings.weight"
    before_words = encoder.model.state_dict()[words].clone()
    changed = {}
    for mode in finetune.MODES:
        finetune.train(encoder, pairs * 2, mode=mode, lr=1e-3)
        state = encoder.model.state_dict()
        assert set(state) == keys  # merged: nothing of LoRA's left in the model
        changed[mode] = {k for k in (lowest, top) if not torch_equal(state[k], stock[k])}
        assert torch_equal(state[words], before_words)
        finetune.restore(encoder, stock)
    assert changed == {"top-layers": {top}, "lora": {lowest}, "full": {lowest, top}}
    with pytest.raises(ValueError, match="unknown fine-tuning mode"):
        finetune.train(encoder, pairs, mode="everything")


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))
