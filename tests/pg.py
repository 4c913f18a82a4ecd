"""A real PostgreSQL server for the tests: Debian's binaries, `initdb` into a temporary folder, `pg_ctl` on a free
loopback port (as the `postgres` user when the tests run as root, which initdb refuses)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def binaries() -> Path | None:
    """The folder of initdb / pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throwaway cluster; `database()` makes a fresh empty database per test."""

    def __init__(self, fsync: bool = False) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; .ci/install-postgres.sh)")
        # a folder of its own under /tmp: the postgres user cannot enter pytest's private temporary folders
        root = Path(tempfile.mkdtemp(prefix="techmatch-pg-"))
        self.bin, self.root = bin_dir, root
        self.data = root / "pgdata"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        root.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(root, "postgres", "postgres")
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "techmatch", "-A", "trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])  # fsync off by default: a test server's data is thrown away
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(root / "server.log"), "-w", "-t", "60",
                   "-o", f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync={'on' if fsync else 'off'} "
                         f"-c max_connections=300 -c shared_buffers=64MB", "start"])
        self.url = f"postgresql://techmatch@127.0.0.1:{self.port}"

    def _run(self, cmd: list[str]) -> None:
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd=self.root)

    def database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"{self.url}/postgres", autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        return f"{self.url}/{name}"

    def stop(self) -> None:
        subprocess.run((["runuser", "-u", "postgres", "--"] if self.as_root else []) + [
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
