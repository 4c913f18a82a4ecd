"""The published needs catalogue: open public needs only, grouped and ordered; a PDF whose text holds every title,
a self-contained HTML page, an XLSX the importer reads back; clear refusals of bad options and of a missing font."""

from __future__ import annotations

import io
import re
import shutil
from html import escape

import openpyxl
import pytest

from matcher.errors import Invalid
from matcher.ingest.template import COLUMNS
from matcher.publish import find_cjk_font
from matcher.publish import fonts as font_lookup
from matcher.publish.content import amount_text

from .conftest import make_settings

CONFIDENTIAL = "车身结构件轻量化材料与成型工艺"  # T-N04 of the fixture catalogue: 仅经纪人可见
CLOSED = "已关闭的旧需求不应出现"
TRICKY = "<脚本>检测 & “引号”需求"
EXTRA = [
    {"title": TRICKY, "description": "描述里有<script>alert(1)</script>与&符号。", "org": "测试&仪器公司",
     "industry": "智能装备及智能制造", "budget": "面议", "coop_modes": "技术咨询", "keywords": "A&B,检测"},
    {"title": "齿轮箱振动在线监测", "description": "需要在线监测齿轮箱振动并提前预警。", "org": "测试齿轮有限公司",
     "industry": "智能装备及智能制造", "district": "綦江区", "budget": 12.5, "deadline": "2026-12-20",
     "wanted_maturity": "5-7", "coop_modes": "合作开发,技术服务", "keywords": "振动,监测", "contact": "=1+1 电话"},
    {"title": CLOSED, "description": "这条需求已关闭。", "industry": "生物医药", "status": "已关闭"},
]


@pytest.fixture(scope="module")
def service(template_catalogue, tmp_path_factory, e5_encoder):
    """The fixture catalogue (one confidential need among five open ones) plus a need with markup in it, one
    with no district or deadline, and a closed one."""
    from matcher.app import App

    folder = tmp_path_factory.mktemp("publish") / "data"
    shutil.copytree(template_catalogue, folder)
    s = App(make_settings(folder), encoder=e5_encoder)
    s.catalogue.add_listings("needs", EXTRA)
    yield s
    s.close()


def open_public(service) -> list[dict]:
    rows, _ = service.catalogue.list_listings("needs", {"status": "open", "confidentiality": "public"}, limit=1000)
    return rows


def squeeze(text: str) -> str:
    """Text without spacing (long titles are wrapped over lines)."""
    return re.sub(r"[\s\x00]+", "", text)


def pdf_text(data: bytes) -> list[str]:
    """Each page's text as pdfium — the engine behind Chrome's PDF viewer — extracts it (what a reader who searches
    or copies gets). pypdf is not used here: it does not implement the embedded CMap encoding fpdf2 writes for a
    CFF CJK font ("Advanced encoding … not implemented") and reads codes past the 256th glyph as garbage, where
    pdfium and poppler (pdftotext) read every glyph, bold or regular."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    return [document[i].get_textpage().get_text_range() for i in range(len(document))]


def cjk_font():
    try:
        return find_cjk_font()
    except Invalid as exc:
        pytest.skip(f"no CJK font on this machine ({exc})")


def test_the_catalogue_holds_open_public_needs_grouped_and_ordered(service):
    cat = service.publishing.collect()
    titles = [e.title for e in cat.entries]
    assert sorted(titles) == sorted(r["title"] for r in open_public(service))
    assert CONFIDENTIAL not in titles and CLOSED not in titles
    order = service.vocab.industries.codes
    assert [g.key for g in cat.groups] == sorted((g.key for g in cat.groups), key=order.index)
    gears = next(g for g in cat.groups if g.key == "smart_equipment")
    assert [e.title for e in gears.entries] == ["齿轮箱振动在线监测", "减速器齿轮早期点蚀问题攻关", TRICKY]  # none last
    figures = cat.figures()
    assert (figures["published"], figures["withheld"], figures["open"]) == (len(titles), 1, len(titles) + 1)
    assert figures["budget_total"] == 150 + 60 + 30 + 12.5 and figures["negotiable"] == 2
    by_district = service.publishing.collect(by="district")
    assert by_district.groups[-1].name == "未注明区县" and by_district.groups[-1].entries[0].title == TRICKY
    assert [g.name for g in by_district.groups[:-1]] == ["涪陵区", "长寿区", "綦江区"]  # the vocabulary's order
    assert all(e.link == f"/needs/{e.id}" for e in cat.entries)
    linked = service.publishing.collect(base_url="https://kj.example.org/")
    assert linked.entries[0].link == f"https://kj.example.org/needs/{linked.entries[0].id}"


def test_pdf_holds_every_title_and_the_cover_figures(service):
    font = cjk_font()
    from pypdf import PdfReader

    if font.regular.name.startswith("NotoSansCJK"):  # the Simplified Chinese face of the collection
        from fontTools.ttLib import TTCollection

        assert TTCollection(str(font.regular), lazy=True).fonts[font.regular_index]["name"].getDebugName(1) \
            .endswith(" SC")
    data = service.publishing.publish(fmt="pdf")
    reader = PdfReader(io.BytesIO(data))
    pages = pdf_text(data)
    text = squeeze("".join(pages))
    cat = service.publishing.collect()
    for e in cat.entries:
        assert squeeze(e.title) in text
    assert squeeze(CONFIDENTIAL) not in text and squeeze(CLOSED) not in text
    assert "重庆市技术需求目录" in text and "公开发布" in text
    assert f"另有{cat.withheld}项保密需求" in text and f"{amount_text(cat.figures()['budget_total'])}万元" in text
    assert all(squeeze(g.name) in text for g in cat.groups)
    assert f"第2页/共{len(pages)}页" in text  # page numbers in the footer
    assert reader.outline and [o.title for o in reader.outline] == [g.name for g in cat.groups]
    # every character is itself, in order: bold titles and regular text alike (no stray or swapped glyphs)
    assert "\x00" not in "".join(pages) and all(e.title in "".join(pages).replace("\r\n", "") or
                                                squeeze(e.title) in text for e in cat.entries)
    english = pdf_text(service.publishing.publish(by="district", fmt="pdf", lang="en"))
    assert "ChongqingTechnologyNeedsCatalogue" in squeeze(english[0])


def test_html_is_one_escaped_page_with_a_qr_code_per_need(service):
    page = service.publishing.publish(fmt="html", base_url="https://kj.example.org").decode("utf-8")
    cat = service.publishing.collect()
    assert page.startswith("<!doctype html>") and '<html lang="zh-CN">' in page
    assert "Noto Sans CJK SC" in page and "Microsoft YaHei" in page and "<link" not in page and "<script" not in page
    for e in cat.entries:
        assert escape(e.title) in page
    assert escape(TRICKY) in page and TRICKY not in page
    assert escape("<script>alert(1)</script>") in page and escape("测试&仪器公司") in page
    assert CONFIDENTIAL not in page and CLOSED not in page
    assert page.count("<svg") == len(cat.entries) == page.count('<article class="need"')
    headers = re.findall(r'<section class="group" id="group-\d+"><h2>(.*?)<small>', page)
    assert headers == [g.name for g in cat.groups]
    assert f'href="https://kj.example.org/needs/{cat.entries[0].id}"' in page
    assert "另有 1 项保密需求" in page and "公开发布" in page


def test_xlsx_round_trips_through_the_importer(service, fresh_service, tmp_path):
    path = tmp_path / "needs.xlsx"
    figures = service.publishing.publish_to(path)
    assert figures["format"] == "xlsx" and figures["published"] == len(open_public(service))
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == [c[0] for c in COLUMNS["needs"]] + ["需求编号", "链接"]
    assert book.sheetnames[1] == "封面"
    cover = {row[0]: row[1:] for row in book["封面"].iter_rows(values_only=True) if row[0]}
    assert cover["保密需求（未列入）"] == (1, None) and cover["智能装备及智能制造"] == (3, 162.5)
    assert CONFIDENTIAL not in {c.value for row in sheet.iter_rows() for c in row}
    report = fresh_service.importer.import_file(path, "needs")
    assert report.rejected == [] and report.warnings == [] and report.accepted == figures["published"]
    assert sorted(report.ignored_columns) == sorted(["需求编号", "链接"])
    orgs = {o["id"]: o["name"] for o in service.store.rows("organisations")}
    new_orgs = {o["id"]: o["name"] for o in fresh_service.store.rows("organisations")}

    def key(row, names):
        return (row["title"], names.get(row["org_id"]), row["industry"], row["district"], row["budget"],
                row["deadline"], row["keywords"], row["coop_modes"], row["wanted_trl_min"], row["wanted_trl_max"],
                row["description"])

    before = sorted(key(r, orgs) for r in open_public(service))
    after = sorted(key(r, new_orgs) for r in fresh_service.store.rows("needs"))
    assert after == before
    contact = next(r["contact"] for r in fresh_service.store.rows("needs") if r["title"] == "齿轮箱振动在线监测")
    assert contact == "'=1+1 电话"  # a formula-like cell is written as text (the export rule), never run


def test_bad_options_are_refused_clearly(service, tmp_path):
    with pytest.raises(Invalid, match=r"cannot group a catalogue by 'org'; use one of industry, district"):
        service.publishing.publish(by="org")
    with pytest.raises(Invalid, match=r"unknown catalogue format 'docx'; use one of xlsx, html, pdf"):
        service.publishing.publish(fmt="docx")
    with pytest.raises(Invalid, match="unknown language"):
        service.publishing.publish(fmt="html", lang="fr")
    with pytest.raises(Invalid, match="must start with http"):
        service.publishing.publish(fmt="html", base_url="kj.example.org")
    with pytest.raises(Invalid, match=r"cannot tell the catalogue format of 'needs\.docx'"):
        service.publishing.publish_to(tmp_path / "needs.docx")
    assert not list(tmp_path.iterdir())


def test_publish_to_writes_atomically_and_returns_the_figures(service, tmp_path):
    out = tmp_path / "site" / "catalogue.html"
    out.parent.mkdir()
    out.write_text("old")
    figures = service.publishing.publish_to(out, by="district")
    assert out.read_bytes().startswith(b"<!doctype html>") and [p.name for p in out.parent.iterdir()] == [out.name]
    assert figures["by"] == "district" and figures["withheld"] == 1 and figures["bytes"] == out.stat().st_size
    assert list(figures["groups"])[-1] == "未注明区县" and figures["relative_links"]


def test_a_missing_or_unusable_font_is_refused_before_any_work(service, tmp_path, monkeypatch):
    with pytest.raises(Invalid, match=r"does not exist.*fonts-noto-cjk.*TECHMATCH_CJK_FONT"):
        service.publishing.publish(fmt="pdf", font=tmp_path / "nope.ttc")
    (tmp_path / "not-a-font.ttf").write_bytes(b"hello")
    with pytest.raises(Invalid, match="no Simplified Chinese glyphs"):
        service.publishing.publish(fmt="pdf", font=tmp_path / "not-a-font.ttf")
    monkeypatch.setattr(font_lookup, "CANDIDATES", ())
    monkeypatch.setattr(font_lookup, "_fontconfig", lambda: None)
    with pytest.raises(Invalid, match=r"no font with Chinese glyphs.*apt-get install fonts-noto-cjk"):
        service.publishing.publish_to(tmp_path / "out.pdf")
    assert not (tmp_path / "out.pdf").exists()


def test_a_pdf_with_hundreds_of_distinct_characters_reads_back_as_written(fresh_service):
    """Past the 256th glyph of a face (where a reader decoding one byte at a time turns text to garbage), titles —
    set in the bold face — and texts read back character for character."""
    cjk_font()
    pool = "".join(chr(0x4E00 + 37 * i) for i in range(400))  # 400 distinct ideographs (all in Noto Sans CJK)
    titles = [pool[i:i + 16] for i in range(0, len(pool), 16)]
    assert len(set("".join(titles))) > 256
    fresh_service.catalogue.add_listings("needs", [{"title": t, "description": pool[::-1][:60], "org": "字形测试企业"}
                                                   for t in titles])
    text = squeeze("".join(pdf_text(fresh_service.publishing.publish(fmt="pdf"))))
    assert all(squeeze(t) in text for t in titles)


def test_an_empty_catalogue_is_published_as_such(fresh_service):
    assert "目前没有征集中的公开需求" in fresh_service.publishing.publish(fmt="html").decode()
    sheet = openpyxl.load_workbook(io.BytesIO(fresh_service.publishing.publish())).worksheets[0]
    assert sheet.max_row == 1
    cjk_font()  # the PDF last: skipped where no CJK font is installed
    pages = pdf_text(fresh_service.publishing.publish(fmt="pdf"))
    assert len(pages) == 1 and "目前没有征集中的公开需求" in squeeze(pages[0])


def test_brokers_download_it_from_the_api_and_operators_write_it_from_the_cli(service, tmp_path):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from api.app import create_app
    from matcher.access import create_key
    from matcher.cli import app as cli

    broker = {"Authorization": f"Bearer {create_key(service.store, 'broker', '测试技术转移中心')[0]}"}
    firm = {"Authorization": f"Bearer {create_key(service.store, 'firm', '测试齿轮有限公司')[0]}"}
    with TestClient(create_app(service.settings, service=service)) as client:
        page = client.get("/exports/catalogue", headers=broker, params={"format": "html", "by": "district"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'filename="needs-catalogue-district.html"' in page.headers["content-disposition"]
        assert escape(TRICKY) in page.text and CONFIDENTIAL not in page.text
        assert client.get("/exports/catalogue", headers=firm).status_code == 403
        assert client.get("/exports/catalogue").status_code == 401
        assert client.get("/exports/catalogue", headers=broker, params={"format": "doc"}).status_code == 422
    out = tmp_path / "目录.xlsx"
    result = CliRunner().invoke(cli, ["publish", "--format", "xlsx", "--out", str(out), "--data-dir",
                                      str(service.settings.data_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps long lines
    assert f"{len(open_public(service))} open needs" in said and "1 confidential left out" in said
    assert openpyxl.load_workbook(out).worksheets[0].max_row == len(open_public(service)) + 1
    bad = CliRunner().invoke(cli, ["publish", "--by", "colour", "--data-dir", str(service.settings.data_dir)])
    assert bad.exit_code != 0 and "industry" in " ".join(bad.output.split())
