"""End to end in headless Chromium: the real workbench on a loopback port; a broker confirms a pair by clicking.

Slow (~30 s); skipped when Debian's Chromium or Playwright is absent. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from matcher import review
from matcher.ingest.importer import import_file
from matcher.service import MatchService

from ..conftest import FIXTURES, make_settings
from .conftest import key_for

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def running_app(tmp_path, e5_encoder):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/install-browser.sh installs it)")
    pytest.importorskip("playwright.sync_api")
    data = tmp_path / "data"
    service = MatchService(make_settings(data), encoder=e5_encoder)
    import_file(service, FIXTURES / "mini_results.jsonl", "results")
    import_file(service, FIXTURES / "mini_needs.jsonl", "needs")
    service.batch_match(top_k=3)
    service.close()
    port = _free_port()
    env = {**os.environ, "TECHMATCH_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"),
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the workbench did not start: " + proc.stdout.read1(4000).decode(errors="replace"))
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
        page.get_by_label("API 密钥（techmatch keys create 生成）").fill(key)
        page.get_by_role("button", name="登录").first.click()
        page.get_by_role("heading", name="审核队列").wait_for(timeout=90_000)
        page.get_by_text("提交决定").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "workbench-queue.png"), full_page=True)
        service = MatchService(make_settings(data))
        pending_before = review.list_candidates(service)[1]
        page.get_by_role("button", name="✓ 确认对接", exact=True).click()
        page.get_by_text("已确认，进入对接进度。").wait_for(timeout=60_000)
        assert review.list_candidates(service)[1] == pending_before - 1
        (pairing,), _ = review.list_pairings(service)
        page.get_by_text("对接进度", exact=True).first.click()
        page.get_by_role("heading", name="对接进度").wait_for(timeout=60_000)
        page.get_by_text(pairing["need_title"]).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "workbench-pipeline.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "workbench-pipeline.png").stat().st_size > 10_000
