"""Both sandbox APIs served for the whole session on free ports, reset before each test that asks."""

from __future__ import annotations

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
