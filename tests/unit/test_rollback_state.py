"""The state store's part in a rollback (issue #16): holds, the synced-values before-image, and the refusals
`prepare` gives (with their reasons) before any API call."""

from __future__ import annotations

import pandas as pd
import pytest

from include.company_sync.rollback.prepare import target_run
from include.company_sync.state import StateStore
from include.company_sync.tasks.prepare import RunRefused

NOW = pd.Timestamp("2026-06-01T12:00:00Z")


@pytest.fixture
def store(tmp_path):
    s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.dispose()


def test_holds_are_kept_by_the_first_rollback_and_released_by_id_or_by_run(store):
    rows = pd.DataFrame({"system": ["hubspot", "salesforce"], "record_id": ["c1", "a1"]})
    store.hold(rows, "rollback__1", "sync__x")
    store.hold(rows.iloc[:1], "rollback__2", "sync__y")
    assert store.holds()[["record_id", "run_id"]].values.tolist() == [["a1", "rollback__1"], ["c1", "rollback__1"]]
    assert store.held_ids("hubspot", ["c1", "c2"]) == {"c1"}
    assert store.release_holds("hubspot", ["c1"]) == 1
    assert store.release_run_holds("rollback__1") == 1
    assert store.holds().empty


def test_synced_values_go_back_to_what_they_were_before_the_run(store):
    store.upsert_links(pd.DataFrame({"account_id": ["a1"], "company_id": ["c1"]}), "sync__0")
    store.record_synced_values(
        pd.DataFrame({"account_id": ["a1"], "company_id": ["c1"], "field": ["Phone"], "value": ["0"]})
    )
    x = pd.DataFrame(
        {"account_id": ["a1", "a1"], "company_id": ["c1", "c1"], "field": ["Phone", "Name"], "value": ["1", "N"]}
    )
    assert store.keep_synced_before("sync__x", x) == 2  # Phone changes, Name is new
    store.keep_synced_before("sync__x", x.assign(value="other"))  # a retried task keeps the first image
    before = store.synced_before("sync__x").sort_values("field")
    assert before[["field", "existed", "value"]].astype(object).values.tolist() == [
        ["Name", False, pd.NA],
        ["Phone", True, "0"],
    ]
    store.record_synced_values(x)
    assert store.restore_synced_before("sync__x", ["a1"]) == 2
    assert store.synced_values(["a1"])[["field", "value"]].values.tolist() == [["Phone", "0"]]


def _run(store, run_id, dag_id="company_sync", status="success", dry_run=False, started_at=NOW):
    store.start_run(run_id=run_id, dag_id=dag_id, dry_run=dry_run, started_at=started_at)
    if status != "running":
        store.finish_run(run_id, status, dag_id=dag_id)


REFUSALS = [
    ("", "run_id is empty"),
    ("nope", "unknown run id"),
    ("rb", "a rollback cannot be rolled back"),
    ("other", "is a run of some_dag"),
    ("busy", "still running"),
    ("dry", "was a dry run"),
    ("old", "older than the ledger's retention"),
]


@pytest.mark.parametrize(("run_id", "reason"), REFUSALS, ids=[r[1] for r in REFUSALS])
def test_prepare_refuses_with_the_reason(store, run_id, reason):
    _run(store, "rb", dag_id="company_sync_rollback")
    _run(store, "other", dag_id="some_dag")
    _run(store, "busy", status="running")
    _run(store, "dry", dry_run=True)
    _run(store, "old", started_at=NOW - pd.Timedelta(days=91))
    with pytest.raises(RunRefused, match=reason):
        target_run(store, run_id, NOW)


def test_prepare_accepts_a_finished_run_of_the_three_dags(store):
    _run(store, "ok", dag_id="salesforce_account_import")
    assert target_run(store, "ok", NOW)["dag_id"] == "salesforce_account_import"
