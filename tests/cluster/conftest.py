"""A private cluster for the test session: `bin/cluster up` in a temporary state folder on free ports, with
DAGs paused at creation (the test seeds the sandbox before any run) and no scheduled runs (only the test's
triggered ones run), torn down with `bin/cluster down --clean`, also when the test fails.

Opt-in: these tests start PostgreSQL, Redis, moto's S3 server, the sandbox and five Airflow processes (about
3 minutes on 2 cores); they run only with `COMPANY_SYNC_CLUSTER_TESTS=1`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENABLED = os.environ.get("COMPANY_SYNC_CLUSTER_TESTS") == "1"
UP_TIMEOUT = 600


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cluster: multi-worker deployment tests (bin/cluster; COMPANY_SYNC_CLUSTER_TESTS=1)"
    )


def _free_base() -> int:
    """A port base whose every port is free."""
    for base in range(28700, 60000, 1000):
        ports = [base + offset for offset in (1, 2, 32, 79, 80, 90)]
        if all(_free(port) for port in ports):
            return base
    raise RuntimeError("no free port base for the cluster")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def cluster_env() -> Iterator[dict[str, str]]:
    if not ENABLED:
        pytest.skip("cluster tests run with COMPANY_SYNC_CLUSTER_TESTS=1 (they start a multi-worker deployment)")
    folder = Path(tempfile.mkdtemp(prefix="company-sync-cluster-"))
    folder.chmod(0o755)  # PostgreSQL runs as its own user when the tests run as root
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "COMPANY_SYNC_", "PYTEST"))} | {
        "COMPANY_SYNC_CLUSTER_DIR": str(folder / "cluster"),
        "COMPANY_SYNC_CLUSTER_PORT_BASE": str(_free_base()),
        "COMPANY_SYNC_CLUSTER_PAUSED": "1",
        "COMPANY_SYNC_CLUSTER_NO_SCHEDULE": "1",  # only the test's own runs: no nightly interval beside them
        # Airflow's delay before a task's retry (the product's default is 120 s, doubling): short here
        "COMPANY_SYNC_RETRY_DELAY_SECONDS": "10",
    }
    for key in ("COMPANY_SYNC_HUBSPOT_POOL_SLOTS", "COMPANY_SYNC_CLUSTER_WORKER_CONCURRENCY"):  # the measurements
        if os.environ.get(key):
            env[key] = os.environ[key]
    try:
        up = subprocess.run(
            [str(ROOT / "bin" / "cluster"), "up"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=UP_TIMEOUT,
            check=False,
        )
        print(up.stdout)
        if up.returncode:
            pytest.fail(f"bin/cluster up failed ({up.returncode}):\n{up.stdout}\n{up.stderr[-4000:]}")
        yield env
    finally:
        down = subprocess.run(
            [str(ROOT / "bin" / "cluster"), "down", "--clean"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        print(down.stdout, down.stderr)
        shutil.rmtree(folder, ignore_errors=True)
