"""The package installs as a package: `pip wheel .`, that wheel installed into a fresh virtual environment, and the
demo, the API and the workbench run from any directory (vocabularies, taxonomy and demo data read as package data,
not from a source tree)."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_workbench

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment holding only the wheel built from this tree. Its dependencies come from this
    environment's site-packages through a path file, so no download is needed, while the source tree and its
    editable install stay out of sight (a path file's folder is not scanned for further path files)."""
    where = tmp_path_factory.mktemp("wheel")
    # with setuptools at hand, build with it (no download); without (Python 3.12+ venvs), pip fetches it
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q",
                          "-w", str(where / "dist"), str(ROOT)], capture_output=True, text=True, cwd=where)
    assert run.returncode == 0, run.stderr[-3000:]
    wheel = next((where / "dist").glob("techmatch-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "matcher/data/vocab/industries.json" in names and "matcher/data/demo/needs-A.jsonl" in names
    assert not any(n.startswith(("tests/", "data/", "benchmarks/")) for n in names)
    env = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = next((env / "lib").glob("python3*/site-packages"))
    (site / "techmatch-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run = subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install",
                          "--no-deps", "-q", str(wheel)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return env


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TECHMATCH_", "PYTHON"))}
    return {**env, "TECHMATCH_DATA_DIR": str(data)}


def test_the_wheel_runs_the_demo_the_api_and_the_workbench_from_any_directory(installed, demo_catalogue,
                                                                             embedding_cache, tmp_path):
    somewhere = tmp_path / "elsewhere"
    somewhere.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    # the demo's vectors, encoded once this session (demo_catalogue), given to the new folder's embedding cache:
    # it spares the minutes of re-encoding and changes nothing else (vectors are keyed by encoder and text)
    with sqlite3.connect(embedding_cache) as source, sqlite3.connect(data / "embeddings-cache.db") as target:
        source.backup(target)
    python = str(installed / "bin" / "python")
    where = subprocess.run([python, "-c", "import matcher, api, ui, embeddings; from matcher.settings import "
                            "get_settings as g; s = g(); print(matcher.__file__); print(s.vocab_dir); "
                            "print(s.demo_dir)"], capture_output=True, text=True, cwd=somewhere, env=_env(data))
    assert where.returncode == 0, where.stderr
    module, vocab, demo = (Path(line) for line in where.stdout.split())
    assert installed in module.parents and installed in vocab.parents and installed in demo.parents
    assert ROOT not in module.parents

    techmatch = str(installed / "bin" / "techmatch")
    run = subprocess.run([techmatch, "demo"], capture_output=True, text=True, cwd=somewhere, env=_env(data),
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "155 needs" in run.stdout and "443 results" in run.stdout and "需求 #" in run.stdout

    port = free_port()
    server = subprocess.Popen([techmatch, "serve", "--port", str(port)], cwd=somewhere, env=_env(data),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ui_port = free_port()
    workbench = subprocess.Popen([techmatch, "ui", "--port", str(ui_port)], cwd=somewhere, env=_env(data),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 180
        answer = None
        while time.time() < deadline:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/search", json={"text": "锂电池回收", "side": "results"},
                                    timeout=30)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert answer is not None and answer.status_code == 200, answer and answer.text
        assert answer.json()["items"], answer.json()
        vocab = httpx.get(f"http://127.0.0.1:{port}/vocab", timeout=10).json()  # read from the package data
        assert "智能装备及智能制造" in str(vocab) and "渝北区" in str(vocab)
        wait_workbench(f"http://127.0.0.1:{ui_port}", workbench, max(deadline - time.time(), 10))
        page = httpx.get(f"http://127.0.0.1:{ui_port}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        for proc in (server, workbench):
            proc.terminate()
            proc.wait(timeout=30)
