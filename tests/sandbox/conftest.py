"""Both sandbox APIs served for the whole session on free ports, reset before each test that asks."""

from __future__ import annotations

import json

import pytest
import requests

from include.sandbox.server import Sandbox, start_sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> Sandbox:
    running = start_sandbox(tmp_path_factory.mktemp("sandbox"), salesforce_port=0, hubspot_port=0)
    yield running
    running.stop()


@pytest.fixture
def clean_sandbox(sandbox: Sandbox) -> Sandbox:
    """The session sandbox, emptied (state, request log and faults) before the test."""
    requests.post(f"{sandbox.salesforce_url}/__sandbox/reset", json={}, verify=str(sandbox.ca_path), timeout=30)
    requests.post(f"{sandbox.hubspot_url}/__sandbox/reset", json={}, timeout=30)
    return sandbox


def set_connections(monkeypatch, sandbox: Sandbox, *, salesforce: str | None = None, hubspot: str | None = None):
    """Airflow connections to the sandbox, set through the environment as Airflow reads them
    (`AIRFLOW_CONN_<ID>`), for the connectors' `from_connection`."""
    if salesforce:
        extra = {"instance_url": sandbox.salesforce_url, "version": "59.0", "ca_bundle": str(sandbox.ca_path)}
        connection = {"conn_type": "salesforce", "password": "sandbox-salesforce-token", "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{salesforce.upper()}", json.dumps(connection))
    if hubspot:
        connection = {"conn_type": "http", "host": sandbox.hubspot_url, "password": "sandbox-hubspot-token"}
        monkeypatch.setenv(f"AIRFLOW_CONN_{hubspot.upper()}", json.dumps(connection))
