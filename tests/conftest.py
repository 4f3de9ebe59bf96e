"""Test-session environment: a private AIRFLOW_HOME and this repo's dags/ and plugins/, set before
anything imports Airflow, so tests never touch a developer's `.airflow/`."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

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

# The PostgreSQL fixtures (pg_server, pg_url, state_url), for every test folder.
pytest_plugins = ["tests.pg"]
