"""The run descriptor and the tasks' outputs: frozen, typed, and plain JSON in XCom (tasks/spec.py)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from include.company_sync.tasks import spec as s

SPEC = s.RunSpec(
    dag_id="company_resync",
    run_id="manual__2026-11-29T10:00:00+00:00",
    mode="resync",
    dry_run=True,
    full_scan=False,
    window_start=datetime(2026, 11, 28, 1, 45, tzinfo=UTC),
    window_end=datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=UTC),
    window="since_last_success window [2026-11-28T01:45:00+00:00, 2026-11-29T10:00:00.123456+00:00)",
    enabled=True,
    enabled_at=datetime(2026, 1, 1, tzinfo=UTC),
    settings_json='{"company_sync_enabled": true}',
    hubspot_company_ids=("101", "102"),
    salesforce_account_ids=("001000000000001AAA",),
)
URL = "file:///staging/company_sync/run/{}.parquet"


def _roundtrip(value):
    data = value.to_xcom()
    assert json.loads(json.dumps(data)) == data  # plain JSON: XCom holds it as is
    return type(value).from_xcom(json.loads(json.dumps(data)))


def test_run_spec_is_frozen_typed_and_round_trips_through_xcom():
    assert _roundtrip(SPEC) == SPEC
    assert SPEC.to_xcom()["window_start"] == "2026-11-28T01:45:00+00:00"
    assert SPEC.to_xcom()["hubspot_company_ids"] == ["101", "102"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        SPEC.mode = "sync"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        SPEC.no_such_field  # noqa: B018  (no attribute forwarding to an untyped dict)
    full = dataclasses.replace(SPEC, window_start=None, enabled_at=None)
    assert _roundtrip(full) == full


def test_run_spec_refuses_an_unknown_mode_and_derives_what_tasks_ask():
    with pytest.raises(ValueError, match="unknown mode"):
        dataclasses.replace(SPEC, mode="everything")
    assert SPEC.chosen_account_ids == ("001000000000001AAA",)
    assert not SPEC.incremental_sync
    assert dataclasses.replace(SPEC, mode="sync").incremental_sync
    assert not dataclasses.replace(SPEC, mode="sync", full_scan=True).incremental_sync


def test_task_outputs_round_trip_and_name_every_plan_frame():
    frames = s.PlanFrames(**{name: URL.format(name) for name in s.PlanFrames.names()})
    planned = s.Planned(frames, {"hubspot": {"created": 2}}, {"R2_new_account": 2}, {"hubspot_creates": 2}, 9)
    assert _roundtrip(planned) == planned
    assert set(s.WRITE_FRAMES) <= set(s.PlanFrames.names())
    inputs = s.CompletedInputs(
        s.InputFrames(**{f.name: URL.format(f.name) for f in dataclasses.fields(s.InputFrames)}),
        counts={"sf_accounts": 3},
        api_calls={"salesforce": {"query": 2}},
        missing_ids={"salesforce": ["001000000000009AAA"], "hubspot": []},
    )
    assert _roundtrip(inputs) == inputs
    for value in (
        s.SalesforceExtract(URL.format("a"), URL.format("u"), [], {"accounts": 1}, {"query": 1}),
        s.HubSpotExtract(URL.format("c"), URL.format("o"), URL.format("l"), URL.format("m"), ["7"], {}, {}),
        s.Checked(URL.format("checks_inputs"), 2),
        s.Loaded(results=URL.format("r"), counts={"upsert": {"succeeded": 1, "failed": 0}}, api_calls={"batch": 1}),
        s.Loaded(dry_run=True, would_write={"hubspot_creates": 3}),
    ):
        assert _roundtrip(value) == value


def test_task_outputs_from_a_run_s_xcom_keep_what_finished():
    outputs = s.TaskOutputs.from_xcom(
        {
            "validate_inputs": {"checks": URL.format("checks_inputs"), "warnings": 0},
            "load_hubspot": {"dry_run": True, "would_write": {"hubspot_creates": 1}, "results": None},
            "plan": None,  # failed: no XCom
        }
    )
    assert outputs.input_checks == s.Checked(URL.format("checks_inputs"), 0)
    assert outputs.planned is None and outputs.plan_checks is None
    assert list(outputs.loads) == ["load_hubspot"] and outputs.loads["load_hubspot"].dry_run


def test_prepare_fixes_the_run_spec_and_records_the_run(tmp_path, monkeypatch):
    """prepare: settings, chosen ids and the window into a RunSpec; the run recorded as running; refusals."""
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowFailException

    from include.company_sync.state import StateStore
    from include.company_sync.tasks import prepare

    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setattr(prepare, "load_settings_json", lambda: '{"company_sync_enabled": true}')
    dag_run = SimpleNamespace(
        dag_id="company_resync",
        run_id="manual__1",
        run_type="manual",
        data_interval_start=None,
        data_interval_end=None,
        run_after=datetime(2026, 11, 29, 10, tzinfo=UTC),
        logical_date=None,
    )
    params = {"hubspot_company_ids": ["101", 102, "101"], "dry_run": True}
    spec = prepare.prepare("resync", {"params": params, "dag_run": dag_run})

    assert (spec.dag_id, spec.run_id, spec.mode, spec.dry_run, spec.enabled) == (
        "company_resync",
        "manual__1",
        "resync",
        True,
        True,
    )
    assert spec.hubspot_company_ids == ("101", "102") and spec.salesforce_account_ids == ()
    assert spec.window_end == datetime(2026, 11, 29, 10, tzinfo=UTC) and spec.enabled_at is not None
    assert s.RunSpec.from_xcom(json.loads(json.dumps(spec.to_xcom()))) == spec
    assert prepare.sync_enabled(spec) is True
    runs = StateStore().recent_runs("company_resync")
    assert runs["status"].tolist() == ["running"] and bool(runs["dry_run"].iloc[0])

    with pytest.raises(AirflowFailException, match="needs hubspot_company_ids or salesforce_account_ids"):
        prepare.prepare("resync", {"params": {}, "dag_run": dag_run})
    monkeypatch.setattr(prepare, "load_settings_json", lambda: '{"company_sync_enabled": false}')
    with pytest.raises(AirflowFailException, match="R1: company sync is off"):
        prepare.prepare("import", {"params": {}, "dag_run": dag_run})
    off = prepare.prepare("sync", {"params": {}, "dag_run": dag_run})
    assert not off.enabled and prepare.sync_enabled(off) is False
