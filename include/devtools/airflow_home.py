"""Prepare this project's Airflow home before a `bin/airflow` command.

- the SQLite metadata DB is created (`airflow db migrate`) on first use;
- the connections, variables and pools of `airflow_settings.yaml` (Astro CLI format) are written to the
  metadata DB on first use and again whenever the file changes (a stamp holds its hash), so a value edited in the
  UI survives until the file itself is edited.

Both checks are file-stamp comparisons, so an ordinary command pays no Airflow import here.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(os.environ.get("COMPANY_SYNC_HOME", Path(__file__).resolve().parents[2]))
SETTINGS_FILE = ROOT / "airflow_settings.yaml"


def _airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", ROOT / ".airflow"))


def load_airflow_settings(path: Path = SETTINGS_FILE) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(connections, variables) from an Astro CLI `airflow_settings.yaml`, validated."""
    raw = yaml.safe_load(path.read_text()) or {}
    section = raw.get("airflow") or {}
    connections, variables = section.get("connections") or [], section.get("variables") or []
    for i, conn in enumerate(connections):
        for key in ("conn_id", "conn_type"):
            if not conn.get(key):
                raise ValueError(f"{path.name}: airflow.connections[{i}].{key} is required")
    for i, var in enumerate(variables):
        if not var.get("variable_name"):
            raise ValueError(f"{path.name}: airflow.variables[{i}].variable_name is required")
    return connections, variables


def load_pools(path: Path = SETTINGS_FILE) -> list[dict[str, Any]]:
    """The pools of an Astro CLI `airflow_settings.yaml` (`pool_name`, `pool_slot`, `pool_description`),
    validated."""
    raw = yaml.safe_load(path.read_text()) or {}
    pools = (raw.get("airflow") or {}).get("pools") or []
    for i, pool in enumerate(pools):
        slots = pool.get("pool_slot")
        if not pool.get("pool_name") or not isinstance(slots, int) or isinstance(slots, bool) or slots < 1:
            raise ValueError(f"{path.name}: airflow.pools[{i}] needs pool_name and pool_slot (1 or more)")
    return pools


def apply_airflow_settings(path: Path = SETTINGS_FILE) -> tuple[int, int]:
    """Upsert the file's connections, variables and pools into the metadata DB; returns the numbers of
    connections and variables."""
    from airflow.models.connection import Connection
    from airflow.models.pool import Pool
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    connections, variables = load_airflow_settings(path)
    pools = load_pools(path)
    with create_session() as session:
        for pool in pools:
            Pool.create_or_update_pool(
                name=pool["pool_name"],
                slots=pool["pool_slot"],
                description=pool.get("pool_description") or "",
                include_deferred=False,
                session=session,
            )
        for conn in connections:
            extra = conn.get("conn_extra")
            session.query(Connection).filter(Connection.conn_id == conn["conn_id"]).delete()
            session.add(
                Connection(
                    conn_id=conn["conn_id"],
                    conn_type=conn["conn_type"],
                    host=conn.get("conn_host") or None,
                    schema=conn.get("conn_schema") or None,
                    login=conn.get("conn_login") or None,
                    password=conn.get("conn_password") or None,
                    port=conn.get("conn_port") or None,
                    extra=json.dumps(extra) if isinstance(extra, dict) else (extra or None),
                )
            )
        for var in variables:
            value = var.get("variable_value")
            Variable.set(var["variable_name"], value if isinstance(value, str) else json.dumps(value), session=session)
    return len(connections), len(variables)


def ensure_airflow_home() -> None:
    home = _airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    db_stamp = home / ".db-migrated"
    if not db_stamp.exists():
        print("bin/airflow: creating the metadata DB (first use)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
        db_stamp.touch()
    settings_stamp = home / ".airflow-settings.sha256"
    digest = hashlib.sha256(SETTINGS_FILE.read_bytes()).hexdigest()
    if not settings_stamp.exists() or settings_stamp.read_text() != digest:
        conns, variables = apply_airflow_settings()
        settings_stamp.write_text(digest)
        print(
            f"bin/airflow: applied {SETTINGS_FILE.name} ({conns} connections, {variables} variables)", file=sys.stderr
        )


if __name__ == "__main__":
    ensure_airflow_home()
