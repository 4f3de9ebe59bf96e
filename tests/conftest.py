"""Test-session environment: a private AIRFLOW_HOME and this repo's dags/ and plugins/, set before
anything imports Airflow, so tests never touch a developer's `.airflow/`."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="company-sync-airflow-"))

os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["COMPANY_SYNC_HOME"] = str(ROOT)
# Airflow's delay before retrying a task, read when DAG files are first parsed: short in tests.
os.environ["COMPANY_SYNC_RETRY_DELAY_SECONDS"] = "1"
# Developer overrides must not leak into tests.
for key in list(os.environ):
    if key.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_")):
        del os.environ[key]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test`: `-n 2 --dist loadgroup`), keep on one worker the tests that share an
    expensive set-up that is not per test: a module-scoped fixture (e.g. the GX validation of every case in
    tests/unit/test_validation.py) is built once per worker that runs a test of that module, and the UI tests
    share one `airflow standalone`. Other tests, e2e included (each worker has its own sandbox, Airflow home and
    metadata DB), are spread one by one."""
    for item in items:
        path = Path(str(item.path))
        if ROOT / "tests" / "ui" in path.parents:
            group = "ui"
        elif _uses_module_fixture(item):
            group = item.nodeid.split("::", 1)[0]
        else:
            continue
        item.add_marker(pytest.mark.xdist_group(group))


def _uses_module_fixture(item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs[-1].scope in ("module", "class", "package") for defs in info.name2fixturedefs.values() if defs)
