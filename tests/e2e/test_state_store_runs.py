"""The state store on PostgreSQL and the write lease, through real DAG runs (`dag.test()`; issue #12).

- One e2e test of the suite runs again with `COMPANY_SYNC_STATE_URL` on PostgreSQL (tests/pg.py).
- A run waits for the lease of a run that stopped renewing it, takes it over once it expires (that run is
  marked `abandoned`), says so in its report (`lease: {waited_seconds, waited_for}`) and releases it; on
  PostgreSQL, over a HubSpot company whose website host is 300 characters long (what failed every run before).
- A run that cannot get the lease in time fails at `prepare` naming the holder, before any API call, and the
  DAG's failure callback runs under `dag.test()`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pandas as pd
import pytest

from include.company_sync.state import StateStore
from tests.e2e import test_salesforce_to_hubspot as salesforce_to_hubspot

pytestmark = pytest.mark.e2e


class KillHolderWhenWaitedFor(logging.Handler):
    """Once a run logs that it waits for the holder's lease, the holder "is killed": its last renewal set an
    expiry of now (what a killed run leaves once its TTL has passed), so the waiting run's next poll takes over."""

    def __init__(self, store: StateStore, dag_id: str, run_id: str):
        super().__init__(logging.INFO)
        self.store, self.dag_id, self.run_id, self.killed = store, dag_id, run_id, False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.killed and record.getMessage().startswith("waiting for the write lease"):
            self.killed = True
            self.store.acquire_lease(self.dag_id, self.run_id, timedelta(0))


@pytest.fixture
def pg_world(world, pg_url, monkeypatch):
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", pg_url)
    return world


def test_R2_R4_on_postgresql(pg_world):
    salesforce_to_hubspot.test_R2_R4_new_account_creates_company_and_links_both_ways(pg_world)


def test_a_run_waits_for_a_stale_lease_takes_it_over_and_reports_the_wait_on_postgresql(pg_world, pg_url):
    host = "a" * 292 + ".example"  # 300 characters (issue #12: VARCHAR(255) columns failed every later run)
    company = pg_world.company(name="Long host", domain=host, website=f"https://{host}/")
    store = StateStore(pg_url)
    store.start_run("manual__killed", "company_resync")
    store.acquire_lease("company_resync", "manual__killed", timedelta(minutes=15))
    waiting = logging.getLogger("include.company_sync.state")
    killer = KillHolderWhenWaitedFor(store, "company_resync", "manual__killed")
    waiting.addHandler(killer)

    try:
        result = pg_world.run()
    finally:
        waiting.removeHandler(killer)

    assert killer.killed
    assert result.state == "success", result.report
    assert result.report["lease"]["waited_for"] == "company_resync/manual__killed"
    assert result.report["lease"]["waited_seconds"] >= 4  # one poll (5 s)
    assert store.run_status("manual__killed", "company_resync") == "abandoned"
    assert store.run_status(result.run_id, "company_sync") == "success"
    assert store.lease() is None  # released by report
    # Mirrored (its id); not a host name (over 253 characters): no matching domain, a per-record warning.
    [mirrored] = store.mirror("hubspot", ids=[company]).to_dict("records")
    assert mirrored["record_id"] == company and pd.isna(mirrored["domain"])
    store.dispose()


def test_a_run_that_cannot_get_the_lease_fails_at_prepare_naming_the_holder(world, monkeypatch, caplog):
    monkeypatch.setenv("COMPANY_SYNC_LEASE_WAIT_MINUTES", "0.02")
    store = StateStore()
    store.acquire_lease("salesforce_account_import", "manual__busy", timedelta(minutes=15))

    with caplog.at_level(logging.INFO):
        result = world.run()

    assert result.state == "failed"
    assert result.requests == {"salesforce": [], "hubspot": []}  # no API call
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "waiting for the write lease: held by salesforce_account_import/manual__busy until" in messages
    assert "company_sync/" in messages and "failed: runs row" in messages  # the DAG's failure callback ran
    assert str(store.lease()) == "salesforce_account_import/manual__busy"  # not someone else's to release
    assert store.recent_runs("company_sync").empty  # it never started
    store.dispose()
