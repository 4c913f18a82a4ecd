"""The `techmatch` command line, run in-process on a real data folder."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.settings import get_settings
from matcher.store import MIGRATIONS

from .conftest import FIXTURES

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console():
    """Render tables wide enough that cells do not wrap in assertions."""
    from matcher import cli

    old = cli.console.width
    cli.console.width = 300
    yield
    cli.console.width = old


def run(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    assert run("init", "--data-dir", str(d)).exit_code == 0
    assert run("import", str(FIXTURES / "mini_results.jsonl"), "--kind", "results", "--data-dir", str(d)).exit_code == 0
    assert run("import", str(FIXTURES / "mini_needs.jsonl"), "--kind", "needs", "--data-dir", str(d)).exit_code == 0
    return d


def test_init_reports_schema_version(tmp_path):
    out = run("init", "--data-dir", str(tmp_path))
    assert out.exit_code == 0 and f"schema version {len(MIGRATIONS)}" in out.output
    assert (tmp_path / "techmatch.db").exists()


def test_match_prints_a_table_and_json(data_dir):
    out = run("match", "--need", "1", "--top-k", "2", "--data-dir", str(data_dir))
    assert out.exit_code == 0 and "齿轮齿面激光淬火强化工艺" in out.output and "共同关键词" in out.output
    js = run("match", "--text", "退役电池回收碳酸锂", "--json", "-k", "1", "--data-dir", str(data_dir))
    hits = json.loads(js.stdout)
    assert hits[0]["item"]["ref"] == "T-R04" and "components" in hits[0]


def test_match_argument_errors_are_clear(data_dir):
    out = run("match", "--data-dir", str(data_dir))
    assert out.exit_code == 2 and "exactly one of" in out.output
    out = run("match", "--need", "999", "--data-dir", str(data_dir))
    assert out.exit_code == 2 and "needs 999 does not exist" in out.output
    out = run("match", "--need", "1", "--method", "magic", "--data-dir", str(data_dir))
    assert out.exit_code == 2 and "unknown method" in out.output


def test_import_reports_rejected_rows(tmp_path, data_dir):
    bad = tmp_path / "bad.csv"
    bad.write_text("成果名称,成熟度\n好成果,通过中试\n,\n坏成果,快成熟了\n", encoding="utf-8")
    report = tmp_path / "report.json"
    out = run("import", str(bad), "--kind", "results", "--report", str(report), "--data-dir", str(data_dir))
    assert out.exit_code == 0 and "1 rows accepted" in out.output and "快成熟了" in out.output
    assert json.loads(report.read_text())["rejected_rows"] == 1
    out = run("import", str(bad), "--kind", "results", "--strict", "--data-dir", str(data_dir))
    assert out.exit_code == 1 and "nothing imported" in out.output
    assert run("import", str(bad), "--kind", "gadgets", "--data-dir", str(data_dir)).exit_code == 2
    assert run("import", str(tmp_path / "none.csv"), "-k", "needs", "--data-dir", str(data_dir)).exit_code == 2


def test_index_rebuild_and_export(tmp_path, data_dir):
    out = run("index", "--rebuild", "--data-dir", str(data_dir))
    assert out.exit_code == 0 and "results: 13 items indexed" in out.output
    target = tmp_path / "needs.csv"
    out = run("export", "needs", "--out", str(target), "--data-dir", str(data_dir))
    assert out.exit_code == 0 and target.read_text(encoding="utf-8-sig").count("\n") == 6
    jl = tmp_path / "results.jsonl"
    assert run("export", "results", "-o", str(jl), "--data-dir", str(data_dir)).exit_code == 0
    assert json.loads(jl.read_text().splitlines()[0])["title"]
    assert run("export", "api_keys", "-o", str(jl), "--data-dir", str(data_dir)).exit_code == 2


def _mini_benchmark(folder):
    """A benchmark folder in the bdci format built from the fixture catalogue (qrels by hand)."""
    folder.mkdir()
    needs = [json.loads(x) for x in (FIXTURES / "mini_needs.jsonl").read_text().splitlines()]
    results = [json.loads(x) for x in (FIXTURES / "mini_results.jsonl").read_text().splitlines()]
    with (folder / "queries.jsonl").open("w") as fh:
        for n in needs:
            fh.write(json.dumps({"id": n["ref"], "title": n["title"], "content": n["description"]},
                                ensure_ascii=False) + "\n")
    with (folder / "corpus.jsonl").open("w") as fh:
        for r in results:
            fh.write(json.dumps({"id": r["ref"], "title_text": r["title"]}, ensure_ascii=False) + "\n")
    pairs = {"T-N01": "T-R01", "T-N02": "T-R04", "T-N03": "T-R05", "T-N04": "T-R08", "T-N05": "T-R09"}
    lines = ["query_id\tdoc_id\trelevance"]
    for q, d in pairs.items():
        lines += [f"{q}\t{d}\t3", f"{q}\tT-R02\t0", f"{q}\tT-R12\t1"]
    (folder / "qrels.tsv").write_text("\n".join(lines) + "\n")


def test_eval_json_on_any_benchmark_folder(tmp_path):
    _mini_benchmark(tmp_path / "bench")
    out = run("eval", "--benchmark", str(tmp_path / "bench"), "--json", "--encoder", "e5",
              "--data-dir", str(tmp_path / "d"))
    assert out.exit_code == 0, out.output
    figures = json.loads(out.stdout)
    assert {"lexical", "dense-e5", "hybrid", "default"} <= set(figures)
    assert figures["default"] == figures[get_settings().method]
    for f in figures.values():
        assert {"t1_ndcg10", "t1_mrr", "t1_p1", "t2_recall10", "t2_recall100", "t2_ndcg10", "t2_mrr"} <= set(f)
        assert all(0.0 <= f[k] <= 1.0 for k in ("t1_ndcg10", "t2_recall100"))
    assert figures["hybrid"]["t1_p1"] == 1.0 and figures["hybrid"]["t2_recall10"] == 1.0
    bad = run("eval", "--benchmark", str(tmp_path), "--data-dir", str(tmp_path / "d"))
    assert bad.exit_code == 2 and "not a benchmark folder" in bad.output


def test_each_command_opens_the_catalogue_once_and_closes_it_however_it_ends(tmp_path, monkeypatch):
    """A command that succeeds and one that fails each open the catalogue once and close it when they end."""
    from matcher.app import App

    opened, closed = [], []
    real_init, real_close = App.__init__, App.close

    def init(self, *args, **kwargs):
        opened.append(self)
        real_init(self, *args, **kwargs)

    def close(self):
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(App, "__init__", init)
    monkeypatch.setattr(App, "close", close)
    data = str(tmp_path / "data")
    assert CliRunner().invoke(app, ["init", "--data-dir", data]).exit_code == 0
    assert len(opened) == 1 and closed == opened
    run = CliRunner().invoke(app, ["conflicts", "add", "无此单位甲", "无此单位乙", "--data-dir", data])
    assert run.exit_code != 0 and "无此单位甲" in run.output
    assert len(opened) == 2 and closed == opened
