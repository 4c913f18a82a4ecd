"""Real `techmatch serve` processes on a data folder, for tests of what happens between processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One `techmatch serve` process (with its workers) on 127.0.0.1."""

    def __init__(self, data: Path, workers: int = 1, port: int | None = None, env: dict[str, str] | None = None
                 ) -> None:
        self.data, self.workers, self.env = data, workers, env or {}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / f"serve-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> Server:
        env = {**os.environ, "TECHMATCH_DATA_DIR": str(self.data), "TECHMATCH_FOLLOW_INTERVAL": "0.2", **self.env}
        self.data.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "matcher.cli", "serve", "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    self._warm()
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def _warm(self) -> None:
        """A process's first ranking query loads the explanation tagger (~1 s): the tests measure propagation
        between warm servers, so warm every worker (new connections spread over them) before handing it out."""
        for _ in range(2 * self.workers):
            with httpx.Client(base_url=self.url, timeout=60) as c:
                c.post("/search", json={"text": "预热查询", "side": "results", "top_k": 1})

    def kill(self) -> None:
        """kill -9 the whole process group (the server and its workers): no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def wait_for(check, timeout: float, step: float = 0.02) -> float:
    """Seconds until `check()` is true; AssertionError after `timeout`."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not seen within {timeout} s")
        time.sleep(step)


def wait_workbench(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until a Streamlit workbench at `url` answers its health check; fail with its output if it does not."""
    import pytest

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    output = proc.stdout.read1(4000).decode(errors="replace") if proc.stdout is not None else ""
    pytest.fail("the workbench did not start: " + output)
