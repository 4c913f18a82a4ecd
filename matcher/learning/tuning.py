"""`techmatch tune`: fit the query adapter, fine-tune the float model (top layers, LoRA or full) or train a
cross-encoder reranker, on judged needs — and measure it honestly first.

Judgements come from a benchmark folder (graded pairs in the bdci format) and/or the brokers' confirm/reject
decisions in the store (judgements.py turns them into a benchmark). Figures are never measured on needs the
adapter or model was fitted on: the cross-validations split the judged needs into folds (grouped by need: all of a
need's pairs fall in one fold), fit on the others and rank the held-out fold through the same `eval` code as
`match` (the hybrid's shortlist, boosts and exclusions), and average over folds; `sizes` gives the learning curve
(figures against the number of judged needs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from matcher.learning.adapter import LAMBDA, TAU, Adapter, Example, fit
from matcher.learning.evaluation import METRIC_KEYS, Benchmark, Prepared, run_method
from matcher.retrieval.ranking import Method, Query


def judged(bench: Benchmark, indices: Sequence[int]) -> Iterator[tuple[int, dict[str, Any], dict[int, int]]]:
    """(position, query, {corpus position: grade}) of these queries that have a relevant judgement (excluded
    documents left out): what every kind of tuning learns from."""
    index_of = {d["id"]: i for i, d in enumerate(bench.corpus)}
    for i in indices:
        q = bench.queries[i]
        rels = {index_of[d]: g for d, g in bench.qrels.get(q["id"], {}).items()
                if d in index_of and d not in q["exclude"]}
        if any(g >= bench.relevant for g in rels.values()):
            yield i, q, rels


def benchmark_examples(bench: Benchmark, prepared: Prepared, indices: Sequence[int]) -> list[Example]:
    """Training examples of these queries (by position): relevant documents weighted by grade, the judged others
    as negatives; queries without a relevant document are left out."""
    dense = prepared.side.dense
    out = []
    for i, _q, rels in judged(bench, indices):
        pos = [(d, g) for d, g in rels.items() if g > 0]  # partly relevant counts, with its smaller gain
        neg = [d for d, g in rels.items() if g <= 0]
        out.append(Example(np.atleast_2d(prepared.queries[i].vectors), dense.vectors([d for d, _ in pos]),
                           np.asarray([float(g) for _, g in pos]),
                           dense.vectors(neg) if neg else np.zeros((0, dense.dim), dtype=np.float32)))
    return out


def adapted(prepared: Prepared, adapter: Adapter | None, indices: Sequence[int]) -> Prepared:
    """The prepared benchmark restricted to these queries, their vectors passed through the adapter."""
    queries = []
    for i in indices:
        q = prepared.queries[i]
        queries.append(q if adapter is None else Query(adapter.apply(q.vectors), q.lexical_text, q.view_weights,
                                                       q.title))
    return Prepared(prepared.side, queries)


def _subset(bench: Benchmark, indices: Sequence[int]) -> Benchmark:
    return replace(bench, queries=[bench.queries[i] for i in indices])


def folds_of(bench: Benchmark, folds: int, seed: int = 0) -> list[list[int]]:
    """Query positions split into folds, shuffled with a fixed seed (one need never spans two folds)."""
    order = np.random.default_rng(seed).permutation(len(bench.queries)).tolist()
    return [sorted(order[k::folds]) for k in range(folds)]


def cross_validate(bench: Benchmark, prepared: Prepared, method: Method, encoder: str, folds: int = 5,
                   sizes: Sequence[int | None] = (None,), lam: float = LAMBDA, tau: float = TAU, seed: int = 0
                   ) -> dict[str, Any]:
    """Grouped k-fold figures of the method with the adapter, per training size (None: every training need),
    next to the same folds without it, with the CPU seconds of fitting."""
    split = folds_of(bench, folds, seed)
    catalogue = prepared.side.dense.vectors(list(range(len(bench.corpus))))
    curves: dict[str, dict[str, float]] = {}
    base = _pooled([run_method(_subset(bench, test), adapted(prepared, None, test), method) for test in split])
    for size in sizes:
        runs, seconds, needs = [], 0.0, []
        for k, test in enumerate(split):
            train = [i for j, fold in enumerate(split) if j != k for i in fold]
            examples = benchmark_examples(bench, prepared, train)
            if size is not None:
                picked = np.random.default_rng(seed + k).permutation(len(examples))[:size]
                examples = [examples[i] for i in sorted(picked)]
            started = time.process_time()
            model = fit(examples, encoder, catalogue, lam=lam, tau=tau, seed=seed + k)
            seconds += time.process_time() - started
            needs.append(len(examples))
            runs.append(run_method(_subset(bench, test), adapted(prepared, model, test), method))
        label = "all" if size is None else str(size)
        curves[label] = {**_pooled(runs), "train_needs": round(float(np.mean(needs)), 1),
                         "fit_cpu_s": round(seconds / folds, 2)}
    return {"folds": folds, "method": method.name, "without": base, "with": curves}


def _pooled(runs: list[dict[str, float]]) -> dict[str, float]:
    """Figures of several folds, weighted by the queries each measured (what one run over all would give)."""
    total = sum(r["queries"] for r in runs) or 1
    out = {k: round(sum(r[k] * r["queries"] for r in runs) / total, 4) for k in METRIC_KEYS if k != "queries"}
    out["queries"] = sum(r["queries"] for r in runs)
    return out


HEADLINE = ("t1_ndcg10", "t1_p1", "t2_recall100", "t2_ndcg10")  # the figures the quality targets name
# an adapter is installed only when cross-validation lifts the mean of those four by more than this: below it the
# gain is within the noise of ~100 judged needs, and an adapter fitted on bdci-dev (+0.007 there in CV) cost the
# unrelated csl-dev kw2related task 0.012 of T2 nDCG@10
MIN_GAIN = 0.01


def headline(figures: dict[str, float]) -> float:
    """Mean of the headline figures: what `tune` must raise in cross-validation to install an adapter."""
    return float(np.mean([figures[k] for k in HEADLINE]))


def tune(settings: Any, install: Callable[[Any], Path], bench: Benchmark, folds: int = 5,
         sizes: Sequence[int | None] = (25, 50, None), force: bool = False, log: Any = None) -> dict[str, Any]:
    """Measure the adapter by grouped cross-validation on `bench`, then fit it on every judged need and install it
    beside the index when it lifted the headline figures in cross-validation by more than MIN_GAIN (or `force`)."""
    from matcher.learning.evaluation import cached_encoder, corpus_lexical, prepare
    from matcher.retrieval.ranking import get_method

    say = log or (lambda _m: None)
    encoder = cached_encoder(settings.encoder, settings)
    prepared = prepare(bench, encoder, corpus_lexical(bench, settings))  # raw query vectors: no adapter yet
    say(f"{bench.name}: {len(bench.queries)} needs, {len(bench.corpus)} listings; {folds}-fold cross-validation")
    report = {"benchmark": bench.name,
              **cross_validate(bench, prepared, get_method(settings.method), encoder.name, folds, sizes)}
    if _verdict(report, force):
        examples = benchmark_examples(bench, prepared, range(len(bench.queries)))
        started = time.process_time()
        model = fit(examples, encoder.name, prepared.side.dense.vectors(list(range(len(bench.corpus)))),
                    trained_on={"benchmark": bench.name, "cv": report["with"]["all"],
                                "cv_without": report["without"]})
        report["fit_cpu_s"] = round(time.process_time() - started, 2)
        report["path"] = str(install(model))
    return report


def _verdict(report: dict[str, Any], force: bool) -> bool:
    """Record the cross-validated gain on the headline mean and whether what was measured gets installed."""
    gain = headline(report["with"]["all"]) - headline(report["without"])
    report.update(gain=round(gain, 4), min_gain=MIN_GAIN, installed=bool(gain > MIN_GAIN or force))
    return report["installed"]


def cross_validate_finetune(bench: Benchmark, settings: Any, folds: int = 5, mode: str = "top-layers",
                            sizes: Sequence[int | None] = (None,), negatives: bool = True, say: Any = None,
                            variants: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
    """Grouped k-fold figures of the default method with the float model fine-tuned (as `mode` says) on the other
    folds — on all their needs, or on `sizes` of them for a learning curve — next to the untuned float model on
    the same folds; returns (report, the float encoder, untuned). `variants` maps a name to a function making
    another encoder of the (untuned, then each fold's tuned) float model — e.g. its 8-bit export — measured the
    same way (report["variants"][name])."""
    from embeddings.e5_float import FloatE5Encoder, convert
    from matcher.learning import finetune
    from matcher.learning.evaluation import corpus_lexical, prepare
    from matcher.retrieval.ranking import get_method

    say = say or (lambda _m: None)
    stock = settings.data_dir / "models" / "e5-small-f32"
    if not (stock / "manifest.json").exists():
        convert(stock)
    encoder = FloatE5Encoder(stock, batch_size=settings.encode_batch)
    lexical = corpus_lexical(bench, settings)
    method = get_method(settings.method)
    split = folds_of(bench, folds)
    say(f"untuned float model: encoding {len(bench.corpus)} listings")
    base = prepare(bench, encoder, lexical)
    without = _pooled([run_method(_subset(bench, test), adapted(base, None, test), method) for test in split])

    def measured(enc: Any, test: Sequence[int]) -> dict[str, float]:
        return run_method(_subset(bench, test), adapted(prepare(bench, enc, lexical), None, test), method)

    variants = variants or {}
    other: dict[str, dict[str, Any]] = {}
    for name, make in variants.items():
        made = make(encoder)
        other[name] = {"without": _pooled([measured(made, test) for test in split]), "with": {}}
    saved = finetune.snapshot(encoder)
    curves: dict[str, dict[str, float]] = {}
    for size in sizes:
        runs, cpu, needs = [], 0.0, []
        variant_runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for k, test in enumerate(split):
            train = [i for j, fold in enumerate(split) if j != k for i in fold]
            if size is not None:
                train = sorted(np.random.default_rng(k).permutation(train)[:size].tolist())
            pairs = finetune.benchmark_pairs(bench, train, seed=k, negatives=negatives)
            stats = finetune.train(encoder, pairs, seed=k, mode=mode)
            cpu += stats["cpu_s"]
            needs.append(len({p[2] for p in pairs}))
            say(f"{mode}, {'all' if size is None else size} needs, fold {k + 1}/{folds}: {stats['pairs']} pairs, "
                f"{stats['cpu_s']} s CPU; re-encoding the listings")
            runs.append(measured(encoder, test))
            for name, make in variants.items():
                variant_runs[name].append(measured(make(encoder), test))
            finetune.restore(encoder, saved)
        label = "all" if size is None else str(size)
        curves[label] = {**_pooled(runs), "train_needs": round(float(np.mean(needs)), 1),
                         "fit_cpu_s": round(cpu / folds, 1)}
        for name in variants:
            other[name]["with"][label] = {**_pooled(variant_runs[name]), "train_needs": curves[label]["train_needs"]}
    report = {"benchmark": bench.name, "folds": folds, "method": method.name, "mode": mode, "negatives": negatives,
              "without": without, "with": curves}
    if other:
        report["variants"] = other
    if mode == "top-layers":
        report["layers"] = finetune.LAYERS
    return report, encoder


def _export_onnx(folder: Any, say: Any) -> str:
    """Export a tuned model to ONNX so ONNX Runtime serves it ("onnx"), or say why PyTorch will ("torch")."""
    try:
        from embeddings.e5_onnx import export

        export(folder)
    except ImportError as exc:  # onnx / onnxruntime not installed: PyTorch serves the model
        say(f"not exported to ONNX ({exc}); PyTorch serves the tuned model")
        return "torch"
    say("exported to ONNX: ONNX Runtime serves the tuned model")
    return "onnx"


def tune_model(settings: Any, reindex: Callable[[Any], dict[str, int]], bench: Benchmark, folds: int = 5,
               mode: str = "top-layers", force: bool = False, log: Any = None, progress: Any = None
               ) -> dict[str, Any]:
    """Cross-validate fine-tuning (`mode`: top-layers, lora or full) on `bench`, then fine-tune on every judged
    need and install the model in the data folder (it then replaces the bundled encoder there) when it lifted the
    figures by more than MIN_GAIN in cross-validation (or `force`); the catalogue's listings are re-encoded with
    it."""
    from matcher.learning import finetune

    say = log or (lambda _m: None)
    report, encoder = cross_validate_finetune(bench, settings, folds, mode=mode, say=say)
    if _verdict(report, force):
        stats = finetune.train(encoder, finetune.benchmark_pairs(bench, range(len(bench.queries))), mode=mode)
        manifest = finetune.save(encoder, settings.tuned_model_path, {
            "benchmark": bench.name, "needs": len(bench.queries), "mode": mode, "layers": report.get("layers"),
            **stats, "cv": report["with"]["all"], "cv_without": report["without"]})
        report.update(path=str(settings.tuned_model_path), model=manifest["name"], fit_cpu_s=stats["cpu_s"])
        report["runtime"] = _export_onnx(settings.tuned_model_path, say)
        say(f"{manifest['name']} installed in {settings.tuned_model_path}; re-encoding the catalogue")
        report["reindexed"] = reindex(progress)
    return report


def cross_encoder_groups(bench: Benchmark, prepared: Prepared, method: Method, indices: Sequence[int]) -> list[Any]:
    """The cross-encoder's training lists of these needs: every judged listing with its grade, and the hybrid's
    top DEPTH that nobody judged, as not relevant (what it will re-rank; full-corpus evaluation counts them so);
    needs without a relevant listing are left out."""
    from matcher.learning.cross_encoder import DEPTH, Group
    from matcher.retrieval.documents import document_text
    from matcher.retrieval.ranking import shortlist

    out = []
    for i, q, rels in judged(bench, indices):
        top = [s.id for s in shortlist(prepared.side, prepared.queries[i], method, DEPTH)
               if bench.corpus[s.id]["id"] not in q["exclude"]][:DEPTH]
        ids = list(rels) + [d for d in top if d not in rels]
        out.append(Group(document_text("needs", q), [document_text("results", bench.corpus[d]) for d in ids],
                         [float(rels.get(d, 0)) for d in ids]))
    return out


def cross_validate_cross_encoder(bench: Benchmark, prepared: Prepared, settings: Any, folds: int = 5,
                                 sizes: Sequence[int | None] = (None,), betas: Sequence[float] = (),
                                 say: Any = None) -> tuple[dict[str, Any], Any]:
    """Grouped k-fold figures of the default method with its top candidates re-ranked by a cross-encoder trained
    on the other folds (each fold from the same untrained model), next to the method alone on the same folds —
    also with other weights `betas` beside the hybrid (rows "<size> beta=<b>"); returns (report, the
    cross-encoder, untrained). The bottom layers' states are computed once for all folds."""
    from matcher.learning.cross_encoder import BETA, CrossEncoder, train
    from matcher.retrieval.ranking import get_method

    say = say or (lambda _m: None)
    method = get_method(settings.method)
    model = CrossEncoder(settings.make_float_model(), cache=len(bench.corpus) + len(bench.queries) + 64)
    stock = model.snapshot()
    split = folds_of(bench, folds)
    without = _pooled([run_method(_subset(bench, test), adapted(prepared, None, test), method) for test in split])
    curves: dict[str, dict[str, float]] = {}
    weights = [BETA, *(b for b in betas if b != BETA)]
    for size in sizes:
        runs: dict[float, list[dict[str, float]]] = {b: [] for b in weights}
        cpu, needs = 0.0, []
        for k, test in enumerate(split):
            train_idx = [i for j, fold in enumerate(split) if j != k for i in fold]
            if size is not None:
                train_idx = sorted(np.random.default_rng(k).permutation(train_idx)[:size].tolist())
            stats = train(model, cross_encoder_groups(bench, prepared, method, train_idx), seed=k)
            cpu += stats["cpu_s"]
            needs.append(stats["needs"])
            say(f"cross-encoder, {'all' if size is None else size} needs, fold {k + 1}/{folds}: {stats['needs']} "
                f"needs, {stats['cpu_s']} s CPU (gates {stats['gates']}, scale {stats['scale']})")
            for b in weights:
                model.beta = b
                runs[b].append(run_method(_subset(bench, test), adapted(prepared, None, test), method, cross=model))
            model.beta = BETA
            model.load_state(stock)
        label = "all" if size is None else str(size)
        for b in weights:
            curves[label if b == BETA else f"{label} beta={b}"] = {
                **_pooled(runs[b]), "train_needs": round(float(np.mean(needs)), 1), "fit_cpu_s": round(cpu / folds, 1)}
    return {"benchmark": bench.name, "folds": folds, "method": method.name, "mode": "cross-encoder",
            "without": without, "with": curves}, model


def tune_cross_encoder(settings: Any, install: Callable[[Any], Path], adapter: Any, bench: Benchmark,
                       folds: int = 5, force: bool = False, log: Any = None) -> dict[str, Any]:
    """Cross-validate a cross-encoder reranker on `bench`, then train it on every judged need and install it
    beside the index when it lifted the figures by more than MIN_GAIN in cross-validation (or `force`); method
    hybrid-ce then uses it, and batch runs by default."""
    from matcher.learning.cross_encoder import train
    from matcher.learning.evaluation import cached_encoder, corpus_lexical, prepare
    from matcher.retrieval.ranking import get_method

    say = log or (lambda _m: None)
    encoder = cached_encoder(settings.encoder, settings)
    prepared = prepare(bench, encoder, corpus_lexical(bench, settings), adapter)
    say(f"{bench.name}: {len(bench.queries)} needs, {len(bench.corpus)} listings; {folds}-fold cross-validation")
    report, model = cross_validate_cross_encoder(bench, prepared, settings, folds, say=say)
    if _verdict(report, force):
        groups = cross_encoder_groups(bench, prepared, get_method(settings.method), range(len(bench.queries)))
        stats = train(model, groups)
        model.meta["trained_on"] = {"benchmark": bench.name, **stats,
                                    "cv": report["with"]["all"], "cv_without": report["without"]}
        report.update(path=str(install(model)), model=model.meta["name"], fit_cpu_s=stats["cpu_s"])
        say(f"{model.meta['name']} installed: method hybrid-ce uses it, and batch runs by default")
    return report
