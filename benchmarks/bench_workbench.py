"""The workbench's first page, measured as a broker meets it: `techmatch ui` started on the demo catalogue, then
headless Chromium asks for the page — seconds until the server answers its health check, until the sign-in form is
drawn (after the health check, Chromium's own start included, and after navigation), and until the queue shows a
pair after signing in. Several starts; needs Chromium (/usr/bin/chromium) and playwright.

    python -m benchmarks.bench_workbench [--data-dir D] [--starts 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import free_port, machine, wait_healthy

ROOT = Path(__file__).resolve().parents[1]


def one_start(data: Path, key: str) -> tuple[float, float, float, float]:
    """(server up, form after health, form after navigation, queue after signing in) in seconds."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "matcher.cli", "ui", "--port", str(port)], cwd=ROOT,
                            env={**os.environ, "TECHMATCH_DATA_DIR": str(data)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        if not wait_healthy(f"{url}/_stcore/health", 2400, 0.05, timeout=1):
            raise SystemExit("the workbench did not start within two minutes")
        healthy = time.perf_counter()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run"])
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            navigated = time.perf_counter()
            page.goto(url)
            page.get_by_role("heading", name="登录").wait_for(timeout=120_000)
            form = time.perf_counter()
            page.get_by_label("API 密钥（techmatch keys create 生成）").fill(key)
            page.get_by_role("button", name="登录").first.click()
            page.get_by_role("button", name=re.compile("确认对接")).wait_for(timeout=120_000)
            queue = time.perf_counter()
            browser.close()
        return healthy - started, form - healthy, form - navigated, queue - form
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="a data folder whose embedding cache to reuse")
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    if not Path("/usr/bin/chromium").exists():
        print("Chromium not found: nothing to measure")
        return
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "demo"
        data.mkdir()
        if args.data_dir and (args.data_dir / "embeddings-cache.db").exists():
            shutil.copy(args.data_dir / "embeddings-cache.db", data / "embeddings-cache.db")
        cli = [sys.executable, "-m", "matcher.cli"]
        env = {**os.environ, "TECHMATCH_DATA_DIR": str(data)}
        subprocess.run([*cli, "demo", "--if-empty"], env=env, cwd=ROOT, check=True, capture_output=True)
        out = subprocess.run([*cli, "keys", "create", "--role", "broker", "--org", "演示技术转移中心"], env=env,
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        key = re.search(r"tm_[A-Za-z0-9_-]+", out).group(0)
        for n in range(args.starts):
            up, after_health, after_nav, queue = one_start(data, key)
            print(f"start {n + 1}: server up {up:.1f} s; sign-in form {after_health:.2f} s after health "
                  f"({after_nav:.2f} s after navigation); queue with a pair open {queue:.2f} s after signing in")


if __name__ == "__main__":
    main()
