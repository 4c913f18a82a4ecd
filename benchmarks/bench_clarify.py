"""Need clarification measured on real needs, read at run time from ../shared (each part skipped when absent):

(a) ../shared/data/listings-51jishu: how complete real platform needs are (validated as `techmatch import` reads
    them, so a 面议 the platform wrote counts), the share flagged incomplete (completeness < INCOMPLETE_BELOW), the
    distribution, how often each field is there; then a full check of a sample of them against the 51jishu
    catalogue: latency (reference in the same run: a free-text search of the same text) and where the examples
    came from.
(b) ../shared/eval/bdci-dev: each query need's completeness against its retrieval quality (T2 nDCG@10 of the default
    method over the whole corpus, as `techmatch eval` ranks): mean nDCG@10 of needs flagged complete vs incomplete,
    by field, and the correlation. bdci-dev needs are text only (no budget, maturity, deadline or cluster), so
    their completeness is their text's.
(c) the cluster classifier: stratified 5-fold CV accuracy (top-1, top-3) on the demo catalogue and on the 51jishu
    catalogue (the platform's own industry labels mapped to the taxonomy), with the majority-cluster rate as
    reference.

    python -m benchmarks.bench_clarify [--data-dir techmatch-data] [--benchmark ../shared/eval/bdci-dev]
        [--sample 200] [--folds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.common import SHARED_EVAL, machine, percentiles, shared_benchmark

JISHU = Path(__file__).resolve().parents[2] / "shared" / "data" / "listings-51jishu"
FIELDS = ("indicators", "current_state", "constraints", "substance", "trl", "budget", "deadline", "cluster")
TEXT_FIELDS = ("indicators", "current_state", "constraints", "substance")


def distribution(values: list[float], threshold: float) -> None:
    """Print the share under the threshold, quantiles and a 0.1-wide histogram of completeness values."""
    arr = np.asarray(values)
    q10, q50, q90 = np.percentile(arr, [10, 50, 90])
    print(f"  flagged incomplete (completeness < {threshold}): {np.mean(arr < threshold):.1%} of {len(arr)}; "
          f"mean {arr.mean():.3f}, p10 {q10:.3f}, median {q50:.3f}, p90 {q90:.3f}")
    counts, edges = np.histogram(arr, bins=10, range=(0, 1))
    for n, lo in zip(counts, edges[:-1]):
        print(f"    {lo:.1f}–{lo + 0.1:.1f} {n:>5}  {'█' * round(60 * n / max(1, len(arr)))}")


def field_rates(scores: list[dict]) -> None:
    """Print, per field, the share of needs with full and with partial credit."""
    n = len(scores)
    print("  field           full  partial")
    for f in FIELDS:
        full = sum(s[f].credit >= 1 for s in scores) / n
        part = sum(0 < s[f].credit < 1 for s in scores) / n
        print(f"  {f:<14}{full:>6.1%}{part:>9.1%}")


def part_a(encoder, tmp: Path, sample: int, folds: int) -> None:
    from matcher.app import App
    from matcher.catalogue.importer import validate
    from matcher.clarify import INCOMPLETE_BELOW, WEIGHTS, as_draft, score
    from matcher.settings import Settings

    print("\n(a) 51jishu needs")
    if not (JISHU / "needs.jsonl").exists():
        print(f"  {JISHU} not found: skipped")
        return None
    valid, report = validate("needs", (JISHU / "needs.jsonl").read_bytes(), "jsonl")
    t0 = time.perf_counter()
    scored = [score(as_draft(item)) for _, item in valid]
    took = (time.perf_counter() - t0) / max(1, len(valid))
    print(f"  {len(valid)} needs read ({len(report.rejected)} rejected rows); completeness alone "
          f"{took * 1000:.1f} ms a need (jieba tagging included, nothing cached)")
    distribution([total for total, _ in scored], INCOMPLETE_BELOW)
    text_part = np.asarray([sum(WEIGHTS[f] * fields[f].credit for f in TEXT_FIELDS) for _, fields in scored])
    form_max = sum(w for f, w in WEIGHTS.items() if f not in TEXT_FIELDS)
    print(f"  vague text: {np.mean(text_part + form_max < INCOMPLETE_BELOW):.1%} would be flagged even with every "
          f"form field (maturity, budget, deadline, cluster) filled in")
    field_rates([fields for _, fields in scored])
    print("  (51jishu needs carry no budget, maturity or cluster — 制造业 files under 其他 — and their deadline is "
          "the listing's validity end)")

    service = App(Settings(data_dir=tmp / "jishu"), encoder=encoder)
    t0 = time.perf_counter()
    for side in ("needs", "results"):
        service.importer.import_file(JISHU / f"{side}.jsonl", side, check_duplicates=False)
    counts = service.catalogue.counts()
    print(f"  catalogue: {counts['needs']} needs + {counts['results']} results imported in "
          f"{time.perf_counter() - t0:.1f} s (vectors from the embedding cache)")
    rows = service.store.rows("needs", order="id", limit=sample)
    service.clarification.check_need(rows[0])  # warm-up: classifier training, jieba dictionaries
    checks, searches, sources = [], [], {f: Counter() for f in FIELDS}
    for row in rows:
        draft = {k: row[k] for k in ("title", "description", "coop_modes", "deadline", "industry")}
        t0 = time.perf_counter()
        result = service.clarification.check_need(draft)
        checks.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        service.matching.search(as_draft(draft).document, side="results", top_k=10)
        searches.append(time.perf_counter() - t0)
        for m in result["missing"]:
            kind = "catalogue" if m.get("source") else ("classifier" if m["field"] == "cluster" else "fixed")
            sources[m["field"]][kind] += 1
    (c50, c99), (s50, s99) = percentiles(checks), percentiles(searches)
    print(f"  check_need on {len(rows)} of them (each need's first check): p50 {c50:.1f} ms, p99 {c99:.1f} ms; "
          f"reference: a search of the same text over results (top 10, explained) p50 {s50:.1f} ms, "
          f"p99 {s99:.1f} ms")
    print("  where the example of a missing field came from (catalogue = a nearby need's sentence or value):")
    for f, found in sources.items():
        if found:
            total = sum(found.values())
            shares = ", ".join(f"{k} {v / total:.0%}" for k, v in found.most_common())
            print(f"    {f:<14}{total:>5} missing  {shares}")
    cv = service.clusters.catalogue_cv(folds)
    service.close()
    return cv


def part_b(bench_dir: Path, data_dir: Path) -> None:
    from scipy import stats

    from matcher.clarify import INCOMPLETE_BELOW, as_draft, score
    from matcher.learning.evaluation import cached_encoder, corpus_lexical, ndcg_at, prepare, ranking
    from matcher.retrieval.ranking import METHODS
    from matcher.settings import get_settings

    print(f"\n(b) {bench_dir.name}: completeness vs retrieval quality")
    bench = shared_benchmark(bench_dir)
    if bench is None:
        return
    settings = get_settings().model_copy(update={"data_dir": data_dir})
    t0 = time.perf_counter()
    prepared = prepare(bench, cached_encoder(settings.encoder, settings), corpus_lexical(bench, settings))
    print(f"  {len(bench.corpus)} results and {len(bench.queries)} needs prepared in {time.perf_counter() - t0:.1f} s; "
          f"method {settings.method}")
    method = METHODS[settings.method]
    corpus_ids = {d["id"] for d in bench.corpus}
    comp, ndcg, fields = [], [], []
    for q, query in zip(bench.queries, prepared.queries):
        rels = {d: r for d, r in bench.qrels.get(q["id"], {}).items() if d in corpus_ids and d not in q["exclude"]}
        if not any(r >= bench.relevant for r in rels.values()):
            continue
        ndcg.append(ndcg_at(ranking(bench, prepared, q, query, method), rels))
        total, scores = score(as_draft({"title": q["title"][:200], "description": q["description"]}))
        comp.append(total)
        fields.append(scores)
    c, g = np.asarray(comp), np.asarray(ndcg)
    print(f"  reference: mean T2 nDCG@10 over all {len(g)} judged needs {g.mean():.4f}")
    done = c >= INCOMPLETE_BELOW
    for label, mask in ((f"complete (≥ {INCOMPLETE_BELOW})", done), (f"incomplete (< {INCOMPLETE_BELOW})", ~done)):
        if mask.any():
            print(f"  {label:<22} {mask.sum():>4} needs  mean nDCG@10 {g[mask].mean():.4f}  "
                  f"(completeness {c[mask].mean():.3f})")
    qs = np.percentile(c, [25, 50, 75])
    bins = np.digitize(c, qs)
    print("  by completeness quartile: " + "; ".join(
        f"Q{b + 1} ({c[bins == b].min():.2f}–{c[bins == b].max():.2f}) nDCG {g[bins == b].mean():.4f}"
        for b in range(4) if (bins == b).any()))
    if done.any() and (~done).any():
        print(f"  complete vs incomplete: Mann–Whitney U p {stats.mannwhitneyu(g[done], g[~done]).pvalue:.3f}")
    pearson, spearman = stats.pearsonr(c, g), stats.spearmanr(c, g)
    print(f"  correlation completeness ~ nDCG@10: Pearson r {pearson.statistic:+.3f} (p {pearson.pvalue:.3f}), "
          f"Spearman ρ {spearman.statistic:+.3f} (p {spearman.pvalue:.3f})")
    for f in ("indicators", "current_state", "constraints"):
        has = np.asarray([s[f].credit >= 1 for s in fields])
        if has.any() and (~has).any():
            print(f"  {f:<14} present {has.sum():>3}: nDCG {g[has].mean():.4f} | absent {(~has).sum():>3}: "
                  f"nDCG {g[~has].mean():.4f}")
    subst = np.asarray([s["substance"].credit for s in fields])
    print(f"  substance: {np.sum(subst >= 1)} of {len(subst)} with full credit (median need "
          f"{statistics.median(len(q['description']) for q in bench.queries)} characters); credit ~ nDCG@10 "
          f"Spearman ρ {stats.spearmanr(subst, g).statistic:+.3f}")


def demo_cv(encoder, tmp: Path, folds: int) -> dict:
    from matcher.app import App
    from matcher.settings import Settings

    service = App(Settings(data_dir=tmp / "demo"), encoder=encoder)
    service.importer.load_demo()
    out = service.clusters.catalogue_cv(folds)
    rows = service.store.rows("needs")
    t0 = time.perf_counter()
    service.clarification.check_need(rows[0])
    first = time.perf_counter() - t0
    out["first_check_s"] = first  # includes training the classifier on the whole catalogue
    out["needs"] = [service.clarification.check_need(r)["completeness"] for r in rows]
    service.close()
    return out


def print_cv(name: str, cv: dict | None) -> None:
    if cv is None:
        return
    if cv.get("top1") is None:
        print(f"  {name}: too few labelled clusters to cross-validate ({cv})")
        return
    print(f"  {name}: {cv['listings']} labelled listings, {cv['clusters']} clusters ({cv['folds']}-fold; "
          f"left out, too small: {', '.join(cv['dropped']) or 'none'}): top-1 {cv['top1']:.3f}, top-3 "
          f"{cv['top3']:.3f}; reference: majority cluster {cv['majority']:.3f}; a fit {cv['fit_seconds']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("techmatch-data"),
                        help="a data folder whose embedding cache holds the bdci-dev and 51jishu vectors")
    parser.add_argument("--benchmark", type=Path, default=SHARED_EVAL / "bdci-dev")
    parser.add_argument("--sample", type=int, default=200, help="51jishu needs checked in full")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    from embeddings import CachedEncoder
    from matcher.clarify import INCOMPLETE_BELOW, WEIGHTS
    from matcher.settings import Settings

    print(machine())
    print("completeness weights: " + ", ".join(f"{k} {v:.2f}" for k, v in WEIGHTS.items())
          + f"; flagged incomplete below {INCOMPLETE_BELOW}")
    with tempfile.TemporaryDirectory() as tmp:
        encoder = CachedEncoder(Settings(data_dir=Path(tmp)).make_encoder(), args.data_dir / "embeddings-cache.db")
        jishu_cv = part_a(encoder, Path(tmp), args.sample, args.folds)
        part_b(args.benchmark, args.data_dir)
        print("\n(c) cluster classifier (logistic regression on the catalogue's stored e5 passage vectors)")
        demo = demo_cv(encoder, Path(tmp), args.folds)
        print_cv("demo catalogue", demo)
        print_cv("51jishu catalogue", jishu_cv)
        print(f"  first check on the demo catalogue (trains the classifier): {demo['first_check_s']:.2f} s")
        needs = demo["needs"]
        print(f"  demo needs: {np.mean(np.asarray(needs) < INCOMPLETE_BELOW):.1%} of {len(needs)} flagged "
              f"incomplete, median completeness {np.median(needs):.3f}")


if __name__ == "__main__":
    main()
