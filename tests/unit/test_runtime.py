"""Deployment settings from the environment: defaults, overrides, and bad values refused by name."""

from __future__ import annotations

from datetime import timedelta

import pytest

from include.company_sync.runtime import Runtime

KEYS = (
    "COMPANY_SYNC_STATE_URL",
    "COMPANY_SYNC_STAGING_URL",
    "COMPANY_SYNC_REPORTS_DIR",
    "COMPANY_SYNC_BREAKER_MIN_RECORDS",
    "COMPANY_SYNC_RETRY_BACKOFF",
    "COMPANY_SYNC_WINDOW_OVERLAP_MINUTES",
    "COMPANY_SYNC_STAGING_RETENTION_DAYS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)


def test_defaults_live_under_the_project():
    runtime = Runtime.from_env()
    assert runtime.state_url.startswith("sqlite:///") and runtime.state_url.endswith(".state/company_sync.db")
    assert runtime.staging_url.startswith("file://") and runtime.staging_url.endswith(".staging")
    assert runtime.window_overlap == timedelta(minutes=15)
    assert runtime.staging_retention == timedelta(days=7)
    assert runtime.retry_policy().backoff_factor == 0.5
    assert (runtime.salesforce_conn_id, runtime.hubspot_conn_id) == ("salesforce_default", "hubspot_default")


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", "postgresql+psycopg2://sync@db/sync")
    monkeypatch.setenv("COMPANY_SYNC_STAGING_URL", "s3://bucket/staging")
    monkeypatch.setenv("COMPANY_SYNC_WINDOW_OVERLAP_MINUTES", "30")
    monkeypatch.setenv("COMPANY_SYNC_RETRY_BACKOFF", "2")
    monkeypatch.setenv("COMPANY_SYNC_STAGING_RETENTION_DAYS", "0.5")
    runtime = Runtime.from_env()
    assert runtime.staging_retention == timedelta(hours=12)
    assert runtime.state_url == "postgresql+psycopg2://sync@db/sync"
    assert runtime.staging_url == "s3://bucket/staging"
    assert runtime.window_overlap == timedelta(minutes=30)
    assert runtime.retry_policy().backoff_factor == 2.0


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("COMPANY_SYNC_BREAKER_MIN_RECORDS", "many", "COMPANY_SYNC_BREAKER_MIN_RECORDS"),
        ("COMPANY_SYNC_RETRY_BACKOFF", "fast", "COMPANY_SYNC_RETRY_BACKOFF"),
        ("COMPANY_SYNC_WINDOW_OVERLAP_MINUTES", "-5", "COMPANY_SYNC_WINDOW_OVERLAP_MINUTES must not be negative"),
        ("COMPANY_SYNC_STAGING_RETENTION_DAYS", "a week", "COMPANY_SYNC_STAGING_RETENTION_DAYS must be a number"),
        ("COMPANY_SYNC_STAGING_RETENTION_DAYS", "-1", "COMPANY_SYNC_STAGING_RETENTION_DAYS must be a number"),
        ("COMPANY_SYNC_STAGING_RETENTION_DAYS", "nan", "COMPANY_SYNC_STAGING_RETENTION_DAYS must be a number"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(monkeypatch, key, value, message):
    monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=message):
        Runtime.from_env()


def test_one_source_of_default_paths_honours_company_sync_home(monkeypatch, tmp_path):
    """State, staging and reports default under `$COMPANY_SYNC_HOME`, whoever asks (runtime, state, staging)."""
    from include.company_sync import runtime, state
    from include.company_sync.staging import Staging

    monkeypatch.setenv("COMPANY_SYNC_HOME", str(tmp_path))
    assert runtime.project_home() == tmp_path
    assert runtime.default_state_url() == f"sqlite:///{tmp_path / '.state' / 'company_sync.db'}"
    assert runtime.default_staging_url() == (tmp_path / ".staging").as_uri()
    assert runtime.default_reports_dir() == tmp_path / ".reports"
    from_env = Runtime.from_env()
    assert (from_env.state_url, from_env.staging_url, from_env.reports_dir) == (
        runtime.default_state_url(),
        runtime.default_staging_url(),
        runtime.default_reports_dir(),
    )
    assert state.default_url() == runtime.default_state_url()
    assert Staging().base == runtime.default_staging_url()
    store = state.StateStore()
    try:
        assert (tmp_path / ".state" / "company_sync.db").exists()
    finally:
        store.dispose()


def test_default_paths_follow_the_environment_overrides(monkeypatch, tmp_path):
    from include.company_sync import runtime, state
    from include.company_sync.staging import Staging

    monkeypatch.setenv("COMPANY_SYNC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    monkeypatch.setenv("COMPANY_SYNC_STAGING_URL", (tmp_path / "stage").as_uri())
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_DIR", str(tmp_path / "reports"))
    assert state.default_url() == f"sqlite:///{tmp_path / 'elsewhere.db'}"
    assert Staging().base == (tmp_path / "stage").as_uri()
    assert runtime.default_reports_dir() == tmp_path / "reports"


def test_a_bad_retention_stops_the_run_at_prepare_naming_the_key(tmp_path, monkeypatch):
    """Without retry (AirflowFailException), before the run is recorded or anything read."""
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowFailException

    from include.company_sync.tasks import prepare

    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setenv("COMPANY_SYNC_STAGING_URL", (tmp_path / "staging").as_uri())
    monkeypatch.setenv("COMPANY_SYNC_STAGING_RETENTION_DAYS", "seven")
    monkeypatch.setattr(prepare, "load_settings_json", lambda: '{"company_sync_enabled": true}')
    dag_run = SimpleNamespace(dag_id="company_sync", run_id="manual__1", run_type="manual")
    with pytest.raises(AirflowFailException, match="COMPANY_SYNC_STAGING_RETENTION_DAYS"):
        prepare.prepare("sync", {"params": {}, "dag_run": dag_run})
    assert not (tmp_path / "state.db").exists()


def test_prepare_applies_the_staging_retention(tmp_path, monkeypatch):
    import os
    import time

    import pandas as pd

    from include.company_sync.staging import Staging
    from include.company_sync.tasks import prepare

    staging = Staging((tmp_path / "staging").as_uri())
    old = staging.write("company_resync", "old_failed", "a", pd.DataFrame({"a": [1]}))
    recent = staging.write("company_sync", "recent_failed", "a", pd.DataFrame({"a": [1]}))
    then = time.time() - 3 * 86400
    os.utime(tmp_path / "staging" / "company_resync" / "old_failed" / "a.parquet", (then, then))
    monkeypatch.setenv("COMPANY_SYNC_STAGING_URL", staging.base)
    monkeypatch.setenv("COMPANY_SYNC_STAGING_RETENTION_DAYS", "2")
    assert prepare.clean_staging(Runtime.from_env(), "company_sync", "manual__2") == [
        f"{staging.base}/company_resync/old_failed"
    ]
    assert not staging.exists(old) and staging.exists(recent)
