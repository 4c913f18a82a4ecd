"""End to end in headless Chromium: the real workbench on a loopback port; a broker confirms a pair by clicking.

Slow (~30 s); skipped when Debian's Chromium or Playwright is absent. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from matcher.app import App

from ..conftest import FIXTURES, make_settings
from ..servers import free_port, wait_workbench
from .conftest import key_for

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def running_app(tmp_path, e5_encoder):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/install-browser.sh installs it)")
    pytest.importorskip("playwright.sync_api")
    data = tmp_path / "data"
    service = App(make_settings(data), encoder=e5_encoder)
    service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    service.batches.run_now(top_k=3)
    service.close()
    port = free_port()
    env = {**os.environ, "TECHMATCH_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"),
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_workbench(url, proc, 60)
        yield url, data, key_for(data, "broker")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_broker_confirms_a_pair_by_clicking(running_app):
    from playwright.sync_api import sync_playwright

    url, data, key = running_app
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1500, "height": 1300}, locale="zh-CN")
        page.goto(url, wait_until="networkidle")
        page.get_by_role("heading", name="登录").wait_for(timeout=90_000)  # nothing before signing in
        page.get_by_role("textbox", name="API 密钥").fill(key)
        page.get_by_role("button", name="登录").first.click()
        page.get_by_role("heading", name="审核队列").wait_for(timeout=90_000)
        page.get_by_role("button", name=re.compile("确认对接")).wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "workbench-queue.png"), full_page=True)
        service = App(make_settings(data))
        pending_before = service.queue.list_candidates()[1]
        page.get_by_role("button", name=re.compile("确认对接")).click()
        page.get_by_text("已确认，进入对接进度。").wait_for(timeout=60_000)
        assert service.queue.list_candidates()[1] == pending_before - 1
        (pairing,), _ = service.pipeline.list_pairings()
        page.get_by_text("对接进度", exact=True).first.click()
        page.get_by_role("heading", name="对接进度").wait_for(timeout=60_000)
        page.get_by_text(pairing["need_title"]).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "workbench-pipeline.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "workbench-pipeline.png").stat().st_size > 10_000


SCREENS = ARTIFACTS / "screens"  # the README's "A broker's day" names this folder
CJK = re.compile(r"[\u4e00-\u9fff]")


def _launch(p):
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"])


def _picker(page, label: str) -> str:
    """The text a select box shows now (its value as the broker sees it)."""
    return page.get_by_role("combobox", name=label).input_value().strip()


def _settle(page, ms: int = 1200) -> None:
    """Wait until Streamlit has finished the run a click started."""
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)
    page.wait_for_timeout(ms)


def test_a_brokers_day_in_the_browser(running_app):
    """Confirm a pair by clicking: the picker and the cards then show the same (next) pair; undo by keyboard
    (U) brings the decided pair back; posting the same need twice is held with a duplicate warning; in English
    the queue shows no Chinese vocabulary label. Screenshots of every page at 1280×720 and 1920×1080."""
    from playwright.sync_api import sync_playwright

    url, data, key = running_app
    SCREENS.mkdir(parents=True, exist_ok=True)
    service = App(make_settings(data))
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 720}, locale="zh-CN")
        page.goto(url, wait_until="networkidle")
        page.get_by_role("textbox", name="API 密钥").fill(key)
        page.get_by_role("button", name="登录").first.click()
        page.get_by_role("heading", name="审核队列").wait_for(timeout=90_000)
        _settle(page)
        first = int(_picker(page, "打开候选对").split()[0][1:])
        page.get_by_role("button", name=re.compile("确认对接")).click()
        page.get_by_text("已确认，进入对接进度。").wait_for(timeout=60_000)
        _settle(page)
        assert service.queue.get_candidate(first)["status"] == "confirmed"
        shown = int(_picker(page, "打开候选对").split()[0][1:])
        assert shown != first
        opened = service.queue.get_candidate(shown)
        cards = page.locator(".listing h4").all_inner_texts()
        assert cards[:2] == [opened["need"]["title"], opened["result"]["title"]]  # picker and cards agree
        page.keyboard.press("u")  # the undo shortcut
        page.get_by_text(f"已撤销对 #{first} 的决定").wait_for(timeout=60_000)
        _settle(page)
        assert service.queue.get_candidate(first)["status"] == "pending"
        assert int(_picker(page, "打开候选对").split()[0][1:]) == first
        assert page.locator(".listing h4").all_inner_texts()[0] == service.queue.get_candidate(first)["need"]["title"]

        page.get_by_text("需求与成果", exact=True).first.click()
        page.get_by_role("heading", name="需求与成果").wait_for(timeout=60_000)
        page.get_by_text("发布需求", exact=True).first.click()
        _settle(page)
        form = page.locator(".st-key-post_need")  # the need form (a keyed container: the check beside it is live)
        def enter(label: str, text: str) -> None:
            """Type into a field of the need form and let the rerun its change starts finish (each field reruns the
            page when it loses focus: the completeness check beside the form follows it)."""
            field = form.get_by_label(label)
            field.fill(text)
            field.press("Tab")
            _settle(page, 800)
            assert field.input_value() == text, label

        for attempt in range(2):
            enter("单位名称 *", "重庆测试火锅食品有限公司")
            enter("标题 *", "火锅底料牛油酸败问题" + ("（再次征集）" if attempt else ""))
            enter("需求描述（问题、现状、目标指标） *", "底料储存半年后牛油氧化酸败，过氧化值超标，希望延长货架期到15个月。")
            enter("联系人及电话 *", "王工 023-62000000")
            cluster = form.get_by_role("combobox", name=re.compile("^产业集群"))
            if not cluster.input_value():  # no cluster until one is chosen (the check beside the form suggests one)
                cluster.click()
                page.get_by_role("option", name="食品及农产品加工").click()
                _settle(page, 800)
            if not attempt:
                page.get_by_text(re.compile("需求完整度：\\d+%")).wait_for(timeout=60_000)
                page.screenshot(path=str(SCREENS / "need-check-1280x720.png"))
            form.get_by_role("button", name="提交").click()
            _settle(page)
        warning = page.get_by_text(re.compile("可能重复：#"))
        warning.wait_for(timeout=60_000)
        assert service.store.count("needs", "title like ?", ["火锅底料牛油酸败问题%"]) == 1
        page.screenshot(path=str(SCREENS / "duplicate-warning-1280x720.png"))

        for width, height in ((1280, 720), (1920, 1080)):
            page.set_viewport_size({"width": width, "height": height})
            for name, slug in (("审核队列", "queue"), ("对接进度", "pipeline"), ("需求与成果", "listings"),
                               ("揭榜挂帅", "challenges"), ("数据看板", "dashboard"), ("对接提醒", "alerts"),
                               ("全局分配", "assign")):
                page.get_by_text(name, exact=True).first.click()
                page.get_by_role("heading", name=name).wait_for(timeout=60_000)
                _settle(page, 1500)
                page.screenshot(path=str(SCREENS / f"{slug}-{width}x{height}.png"))
                assert not page.get_by_test_id("stException").count(), name

        # the pipeline a broker works in: both parties' contacts, a move with its note, the next action, the history
        page.set_viewport_size({"width": 1280, "height": 1000})
        page.get_by_text("审核队列", exact=True).first.click()
        _settle(page)
        page.get_by_role("button", name=re.compile("确认对接")).click()
        _settle(page)
        page.get_by_text("对接进度", exact=True).first.click()
        _settle(page)
        page.get_by_role("combobox", name="推进到").click()
        page.get_by_role("option", name="已联系").click()
        page.get_by_role("textbox", name="备注").fill("已电话联系双方，约定下周面谈")
        page.get_by_role("button", name="推进", exact=True).click()
        page.get_by_text("已推进到「已联系」。").wait_for(timeout=60_000)
        _settle(page)
        page.get_by_role("textbox", name="下一步行动").fill("寄送样品并签署保密协议")
        date = page.get_by_test_id("stDateInput").filter(has_text="计划日期").locator("input")
        date.fill("2026-12-20")
        date.press("Enter")
        page.get_by_role("button", name="保存下一步").click()
        page.get_by_text("已保存下一步行动。").wait_for(timeout=60_000)
        _settle(page, 1500)
        assert page.locator('a[href^="mailto:"]').count() >= 2  # both parties' contacts as links
        page.screenshot(path=str(SCREENS / "pipeline-tools-1280x1000.png"), full_page=True)
        page.get_by_text("审核队列", exact=True).first.click()
        _settle(page)
        page.get_by_text("批量处理").click()
        _settle(page, 800)
        page.screenshot(path=str(SCREENS / "queue-tools-1280x1000.png"), full_page=True)
        page.get_by_text("全局分配", exact=True).first.click()  # an assignment round, then its pairs in the queue
        page.get_by_role("button", name="运行全局分配").click()
        page.get_by_text(re.compile(r"第 \d+ 轮：\d+ 个配对")).wait_for(timeout=90_000)
        _settle(page)
        page.screenshot(path=str(SCREENS / "assign-1280x1000.png"))
        page.set_viewport_size({"width": 1280, "height": 720})
        page.get_by_text("审核队列", exact=True).first.click()
        _settle(page)
        page.get_by_text("English", exact=True).click()
        page.get_by_role("heading", name="Review queue").wait_for(timeout=60_000)
        _settle(page)
        page.screenshot(path=str(SCREENS / "queue-english-1280x720.png"))
        labels = [b for b in page.locator(".badge").all_inner_texts()]
        shared = page.get_by_test_id("stMarkdown").filter(has_text="Shared key terms").locator(".badge")
        quoted = set(shared.all_inner_texts())  # terms quoted from the listings, as written
        choices = [x.input_value() for x in page.get_by_role("combobox").all()
                   if not (x.get_attribute("aria-label") or "").startswith("Open a pair")]
        chinese = [x for x in labels + choices if CJK.search(x) and x not in quoted]
        assert not chinese, chinese
        browser.close()
    service.close()
    assert (SCREENS / "queue-1920x1080.png").stat().st_size > 10_000
