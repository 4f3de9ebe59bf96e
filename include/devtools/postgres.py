"""Debian's PostgreSQL, run privately as the calling user: shared by `make cluster` (`cluster.py`) and the
tests' session fixture (`tests/pg.py`).

PostgreSQL refuses to run as root: as root, its tools run as Debian's `postgres` user (`pg_user_kwargs`), and
the folders it writes are handed to that user. Only the standard library is imported at module level.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any


class PostgresNotFound(RuntimeError):
    """Debian's `postgresql` package (initdb, pg_ctl) is not installed."""


def pg_bin(tool: str) -> str:
    """The newest installed PostgreSQL's `tool` (`/usr/lib/postgresql/<version>/bin/`), else one on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(tool)
    if not path:
        raise PostgresNotFound(f"PostgreSQL's {tool} not found: install Debian's postgresql package")
    return path


def have_postgres() -> bool:
    try:
        return bool(pg_bin("initdb") and pg_bin("pg_ctl"))
    except PostgresNotFound:
        return False


def pg_user_kwargs() -> dict[str, Any]:
    """`subprocess` arguments running a PostgreSQL tool as Debian's `postgres` user when called as root."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def give_to_postgres(path: Path) -> None:
    """As root, hand `path` to the `postgres` user (the server writes there); otherwise nothing to do."""
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


class PrivatePostgres:
    """A throw-away server: `initdb` into a new temporary folder, listening on 127.0.0.1:`port` only (and a
    socket in that folder), `trust` authentication (nothing but this machine's processes can reach it), UTC.
    `stop()` shuts it down and deletes the folder."""

    def __init__(self, port: int):
        self.port = port
        # Not under pytest's tmp dirs: those are private to root, and the server may run as `postgres`.
        self.dir = Path(tempfile.mkdtemp(prefix="company-sync-pg-"))
        give_to_postgres(self.dir)
        self.data = self.dir / "data"
        self.log = self.dir / "postgresql.log"

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess:
        env = os.environ | {"PGTZ": "UTC", "TMPDIR": str(self.dir)}
        return subprocess.run(
            argv, cwd=self.dir, env=env, capture_output=True, text=True, check=False, **pg_user_kwargs()
        )

    def start(self) -> PrivatePostgres:
        argv = [pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"]
        done = self._run([*argv, "--no-sync"])
        if done.returncode:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n"
                "timezone = 'UTC'\n"
            )
        done = self._run([pg_bin("pg_ctl"), "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60"])
        if done.returncode:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{done.stdout}{done.stderr}\n{tail}")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres") as conn:
            conn.autocommit = True
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "PG_VERSION").exists():
            self._run([pg_bin("pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60"])
        shutil.rmtree(self.dir, ignore_errors=True)
