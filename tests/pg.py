"""PostgreSQL for the tests: one private server per test session (per pytest-xdist worker), a fresh database
per test.

`pg_server` starts Debian's PostgreSQL (`include/devtools/postgres.py`: initdb in a temporary folder, a free
port, as the `postgres` user when root) and tears it down at the end. Without the binaries the PostgreSQL
variants are skipped with the reason, unless `CI` is set: there a missing PostgreSQL fails them (`make test`
installs it: `make db-deps`).

`state_url` is parametrised over both backends: a SQLite file in the test's tmp dir, or a new PostgreSQL
database. Use `pg_url` for a PostgreSQL-only test.
"""

from __future__ import annotations

import itertools
import os
import socket

import pytest

from include.devtools.postgres import PrivatePostgres, have_postgres

_databases = itertools.count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server():
    if not have_postgres():
        message = "PostgreSQL's binaries are missing (Debian's postgresql package: `make db-deps`)"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{message}; CI is set, so the PostgreSQL tests must run")
        pytest.skip(message)
    server = PrivatePostgres(_free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A new, empty PostgreSQL database of the session's server."""
    return pg_server.create_database(f"t{os.getpid()}_{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path) -> str:
    """An empty state store's URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'sync.db'}"
    return request.getfixturevalue("pg_url")
