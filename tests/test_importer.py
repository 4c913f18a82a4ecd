"""Importers: CSV, JSONL and Excel; a validation report for bad rows; nothing lost, nothing half-written."""

from __future__ import annotations

import io
import json
import re

import openpyxl
import pytest

from matcher.catalogue.importer import detect_format, validate

from .conftest import shared_path

GOOD = {"ref": "X-1", "title": "齿轮激光淬火", "abstract": "提高齿面硬度", "maturity": "通过中试",
        "transfer_modes": "技术许可", "price": "面议", "industry": "智能装备及智能制造"}


def jsonl(rows) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows).encode()


def test_csv_with_chinese_headers_and_platform_values(fresh_service):
    data = ("成果名称,成果简介,成熟度,合作方式,价格,行业,发布日期,来源网站\n"
            "高镍正极包覆,原子层沉积包覆,通过小试,\"技术转让,技术入股\",300万,新能源,2025/3/20,某平台\n").encode("utf-8-sig")
    report = fresh_service.importer.import_bytes(data, "results", "csv")
    assert report.accepted == 1 and not report.rejected
    assert report.ignored_columns == ["来源网站"]
    row = fresh_service.store.rows("results")[0]
    assert (row["trl"], row["transfer_modes"], row["price"], row["industry"], row["posted_at"]) == (
        5, ["transfer", "equity"], 300.0, "new_energy", "2025-03-20")


def test_xlsx_import(fresh_service):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["需求名称", "需求描述", "合作方式", "预算", "截止日期", "区县"])
    sheet.append(["榨菜减盐", "含盐量降到6%以下", "委托开发", 60, "2027-01-31", "涪陵"])
    sheet.append([None, None, None, None, None, None])
    buf = io.BytesIO()
    book.save(buf)
    report = fresh_service.importer.import_bytes(buf.getvalue(), "needs", "xlsx")
    assert report.accepted == 1 and not report.rejected
    need = fresh_service.store.rows("needs")[0]
    assert (need["district"], need["budget"], need["coop_modes"]) == ("涪陵区", 60.0, ["commissioned_dev"])


def test_bad_rows_are_reported_and_good_rows_committed(fresh_service):
    rows = [GOOD, "{not json", {**GOOD, "ref": "X-2", "maturity": "快成熟了"},
            {**GOOD, "ref": "X-3", "title": "", "abstract": ""}, {**GOOD, "ref": "X-1"}, [1, 2],
            {**GOOD, "ref": "X-4", "title": "电池回收", "price": "很贵"}]
    report = fresh_service.importer.import_bytes(jsonl(rows), "results", "jsonl")
    assert report.accepted == 1
    by_row = {(r.row, r.field) for r in report.rejected}
    assert {(2, ""), (3, "maturity"), (4, "title"), (5, "ref"), (6, ""), (7, "price")} <= by_row
    assert all(r.reason for r in report.rejected)
    assert fresh_service.store.count("results") == 1
    assert len(fresh_service.indexes.live.sides["results"].dense) == 1


def test_strict_import_changes_nothing_when_a_row_is_bad(fresh_service):
    report = fresh_service.importer.import_bytes(jsonl([GOOD, {**GOOD, "ref": "X-9", "price": "很贵"}]), "results",
                                                 "jsonl", strict=True)
    assert report.accepted == 0 and report.rejected
    assert fresh_service.store.count("results") == 0


def test_reimport_updates_by_ref(fresh_service):
    fresh_service.importer.import_bytes(jsonl([GOOD]), "results", "jsonl")
    report = fresh_service.importer.import_bytes(jsonl([{**GOOD, "title": "齿轮激光淬火（新版）"}]), "results", "jsonl")
    assert (report.created, report.updated) == (0, 1)
    assert fresh_service.store.rows("results")[0]["title"] == "齿轮激光淬火（新版）"


def test_a_crash_mid_import_loses_nothing_committed(fresh_service):
    fresh_service.importer.import_bytes(jsonl([GOOD]), "results", "jsonl")
    real = fresh_service.indexes.encoder.inner

    class Crashing(type(real)):
        def _encode_documents(self, texts):
            raise MemoryError("out of memory while encoding")

    fresh_service.indexes.encoder.inner = Crashing.__new__(Crashing)
    fresh_service.indexes.encoder.inner.__dict__.update(real.__dict__)
    batch = [{**GOOD, "ref": f"Y-{i}", "title": f"新成果{i}号"} for i in range(5)]
    with pytest.raises(MemoryError):
        fresh_service.importer.import_bytes(jsonl(batch), "results", "jsonl")
    fresh_service.indexes.encoder.inner = real
    assert [r["ref"] for r in fresh_service.store.rows("results")] == ["X-1"]
    assert fresh_service.indexes.live.sides["results"].dense.ids() == [fresh_service.store.rows("results")[0]["id"]]


def test_organisations_import_and_formats(fresh_service):
    data = "名称,类型,区县\n山城理工大学,高校,沙坪坝\n某齿轮公司,企业,綦江\n".encode()
    report = fresh_service.importer.import_bytes(data, "organisations", "csv")
    assert report.accepted == 2 and fresh_service.store.count("organisations") == 2
    assert detect_format("a.XLSX") == "xlsx" and detect_format("b.ndjson") == "jsonl"
    with pytest.raises(ValueError, match=r"\.csv, \.jsonl or \.xlsx"):
        detect_format("c.pdf")


def test_undecodable_and_unreadable_files_get_clear_errors(fresh_service):
    with pytest.raises(ValueError, match="xlsx"):
        fresh_service.importer.import_bytes(b"not a zip", "results", "xlsx")
    with pytest.raises(ValueError, match="UTF-8"):
        fresh_service.importer.import_bytes(b"title,abstract\n\xff\xfe\xfa,x\n", "results", "csv")
    gbk = "成果名称,成果简介\n花椒烘干,低温热泵\n".encode("gb18030")
    assert fresh_service.importer.import_bytes(gbk, "results", "csv").accepted == 1
    assert fresh_service.store.count("results") == 1


@pytest.mark.parametrize("kind", ["needs", "results"])
def test_every_real_platform_listing_validates(kind):
    path = shared_path("data", "listings-51jishu", f"{kind}.jsonl")
    lines = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    valid, report = validate(kind, path.read_bytes(), "jsonl")
    # only listings with neither a title nor any text are refused, each with a reason
    empty = {n for n, row in enumerate(lines, start=1)
             if not row.get("title", "").strip() and not row.get("description", "").strip()}
    assert {r.row for r in report.rejected} == empty
    assert all(r.field == "title" for r in report.rejected)
    assert len(valid) == len(lines) - len(empty)


def test_xlsx_formula_cells_are_refused_with_a_reason(fresh_service):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["需求名称", "需求描述", "预算"])
    sheet.append(["=CONCAT(\"榨菜\",\"减盐\")", "含盐量降到6%以下", 60])
    sheet.append(["火锅底料自动炒制", "全程自动控温", "=A1*2"])
    sheet.append(["苎麻纤维脱胶", "生物酶脱胶", 30])
    buf = io.BytesIO()
    book.save(buf)
    report = fresh_service.importer.import_bytes(buf.getvalue(), "needs", "xlsx")
    assert report.accepted == 1 and {r.row for r in report.rejected} == {2, 3}  # the rows Excel shows
    assert all("formula" in r.reason for r in report.rejected)
    assert [n["title"] for n in fresh_service.store.rows("needs")] == ["苎麻纤维脱胶"]


@pytest.mark.parametrize(("field", "value"), [("title", 1), ("abstract", True), ("title", ["齿轮"]),
                                              ("contact", 13800000000)])
def test_jsonl_types_are_checked_like_the_api(fresh_service, field, value):
    report = fresh_service.importer.import_bytes(jsonl([{**GOOD, field: value}]), "results", "jsonl")
    assert report.accepted == 0 and report.rejected[0].field == field and "expected text" in report.rejected[0].reason
    assert fresh_service.store.count("results") == 0


def test_the_audit_line_of_an_import_commits_with_it(fresh_service, failing_encoder):
    report = fresh_service.importer.import_bytes(jsonl([GOOD]), "results", "jsonl", actor="测试")
    assert report.accepted == 1
    line = [a for a in fresh_service.store.rows("audit_log") if a["action"] == "import"]
    assert len(line) == 1 and line[0]["detail"]["accepted"] == 1 and line[0]["actor"] == "测试"
    from matcher.app import App

    broken = App(fresh_service.settings, encoder=failing_encoder)
    with pytest.raises(RuntimeError):
        broken.importer.import_bytes(jsonl([{**GOOD, "ref": "X-2", "title": "全新的成果"}]), "results", "jsonl")
    assert len([a for a in broken.store.rows("audit_log") if a["action"] == "import"]) == 1  # no line for it
    broken.close()


def test_temporary_files_a_crash_left_beside_the_index_are_removed_at_start(fresh_service):
    import os
    import time

    fresh_service.catalogue.add_result({"title": "一项成果"})
    fresh_service.indexes.live.snapshot(force=True)
    index = fresh_service.settings.index_dir
    stale = [index / ".CURRENT.json.abc123", index / "snapshots" / ".tmp-000000000009-deadbeef"]
    stale[0].write_text("half")
    stale[1].mkdir()
    old = time.time() - 3600
    for p in stale:
        os.utime(p, (old, old))
    fresh = index / "snapshots" / ".tmp-000000000010-cafebabe"  # another process writing right now
    fresh.mkdir()
    from matcher.app import App

    again = App(fresh_service.settings, encoder=fresh_service.indexes.encoder.inner)
    again.load()
    assert not any(p.exists() for p in stale) and fresh.exists()
    again.close()


def test_formula_like_text_in_csv_is_kept_as_text_with_a_warning(fresh_service):
    data = "成果名称,成果简介\n\"=HYPERLINK(\"\"http://x.example\"\",\"\"点我\"\")\",正常简介\n".encode()
    report = fresh_service.importer.import_bytes(data, "results", "csv")
    assert report.accepted == 1 and report.warnings[0].field == "title"
    assert "formula" in report.warnings[0].reason


@pytest.mark.parametrize("kind", ["needs", "results"])
def test_the_template_offers_the_vocabularies_and_imports_as_it_comes(fresh_service, kind):
    """Every column is one the importer reads, vocabulary columns have drop-downs of their names, and the
    template's example row imports without a rejection or a changed value."""
    from matcher.catalogue.importer import ALIASES
    from matcher.ingest.template import template_xlsx

    data = template_xlsx(kind, fresh_service.vocab)
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert all(h in ALIASES[kind] for h in headers)
    rules = {str(v.sqref).split(":")[0][:-1]: v.formula1 for v in sheet.data_validations.dataValidation}
    column = {h: openpyxl.utils.get_column_letter(i) for i, h in enumerate(headers, start=1)}
    assert column["产业集群"] in rules and column["区县"] in rules
    options = [c.value for c in book["选项"][column["区县"]] if c.value]
    assert len(options) == len(fresh_service.vocab.districts.codes)
    report = fresh_service.importer.import_bytes(data, kind, "xlsx")
    assert report.accepted == 1 and not report.rejected, report.rejected
    # the example is classed as it reads (榨菜 is food processing), not as the drop-down's first entry
    row = fresh_service.catalogue.get_listing(kind, report.ids[0])
    assert row["industry"] == ("food_agri" if kind == "needs" else "smart_equipment")
    assert row["district"] == ("涪陵区" if kind == "needs" else "沙坪坝区")


def test_the_workbench_import_report_speaks_chinese_with_excel_rows(fresh_service):
    """Rejected rows, changed values and duplicates in one table: the rows Excel shows, Chinese field names and
    reasons (what the workbench shows and lets a broker download)."""
    from ui.views.listings import _report_rows

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["需求名称", "需求描述", "预算", "联系人"])
    sheet.append(["榨菜减盐", "含盐量降到6%以下", 60, "王工"])
    sheet.append(["火锅底料", "全程自动控温", "很多", "李工"])
    sheet.append(["榨菜减盐", "含盐量降到6%以下", 60, "王工"])
    buf = io.BytesIO()
    book.save(buf)
    report = fresh_service.importer.import_bytes(buf.getvalue(), "needs", "xlsx")
    rows = _report_rows(report, "zh")
    assert [(r["Excel 行号"], r["字段"], r["问题"]) for r in rows] == [(3, "预算", "未导入"), (4, "标题", "可能重复")]
    assert rows[0]["原因"].startswith("无法识别金额“很多”") and rows[1]["原因"] == "与第 2 行「榨菜减盐」重复"
    assert all(not re.search(r"[A-Za-z]{4,}", str(v)) for r in rows for v in r.values())


def test_the_template_from_the_cli_and_the_api(fresh_service, tmp_path):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from api.app import create_app
    from matcher.cli import app as cli

    out = tmp_path / "needs.xlsx"
    run = CliRunner().invoke(cli, ["template", "--kind", "needs", "--out", str(out), "--data-dir",
                                   str(tmp_path / "d")])
    assert run.exit_code == 0, run.output
    assert openpyxl.load_workbook(out).worksheets[0]["A1"].value == "需求名称"
    assert CliRunner().invoke(cli, ["template", "--kind", "orgs", "--data-dir", str(tmp_path / "d")]).exit_code == 2
    with TestClient(create_app(fresh_service.settings, service=fresh_service)) as client:
        got = client.get("/imports/template", params={"kind": "results"})
        assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
        assert openpyxl.load_workbook(io.BytesIO(got.content)).worksheets[0]["A1"].value == "成果名称"
        assert client.get("/imports/template", params={"kind": "orgs"}).status_code == 422


def test_every_value_the_importer_changes_is_reported(fresh_service):
    """A title taken from the text, a date rewritten: each a warning on its Excel row, shown in Chinese in the
    workbench report (面议 written as such is the value itself, not a change)."""
    from ui.views.listings import _report_rows

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["需求名称", "需求描述", "预算", "截止日期", "联系人"])
    sheet.append(["", "含盐量降到6%以下，亚硝酸盐低于国标。", "面议", "2027/6/30", "王工"])
    sheet.append(["火锅底料自动炒制", "全程自动控温", 60, "2027-06-30", "李工"])
    buf = io.BytesIO()
    book.save(buf)
    report = fresh_service.importer.import_bytes(buf.getvalue(), "needs", "xlsx")
    assert report.accepted == 2 and not report.rejected
    assert [(w.row, w.field) for w in report.warnings] == [(2, "title"), (2, "deadline")]
    reasons = [r["原因"] for r in _report_rows(report, "zh")]
    assert reasons == ["缺少标题：已从正文截取为“含盐量降到6%以下，亚硝酸盐低于国标”", "日期“2027/6/30”已读作 2027-06-30"]
