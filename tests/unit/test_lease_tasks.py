"""The task layer of the write lease and of an unreachable state store (tasks/lease.py, tasks/prepare.py)."""

import socket
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.company_sync.runtime import Runtime
from include.company_sync.state import StateStore
from include.company_sync.tasks import lease, prepare
from include.company_sync.tasks.resources import RunResources
from include.company_sync.tasks.spec import RunSpec

TTL = timedelta(minutes=15)


def dag_run(dag_id="company_sync", run_id="manual__1"):
    return SimpleNamespace(
        dag_id=dag_id,
        run_id=run_id,
        run_type="manual",
        data_interval_start=None,
        data_interval_end=None,
        run_after=datetime(2026, 11, 29, 10, tzinfo=UTC),
        logical_date=None,
    )


@pytest.fixture
def url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", url)
    monkeypatch.setenv("COMPANY_SYNC_STAGING_URL", (tmp_path / "staging").as_uri())
    monkeypatch.setattr(prepare, "load_settings_json", lambda: '{"company_sync_enabled": true}')
    return url


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_an_unreachable_state_store_fails_prepare_naming_the_url_with_its_password_masked(url, monkeypatch):
    port = closed_port()
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", f"postgresql+psycopg://sync:s3cret-pw@127.0.0.1:{port}/state")
    with pytest.raises(AirflowFailException) as raised:
        prepare.prepare("sync", {"params": {}, "dag_run": dag_run()})
    message = str(raised.value)
    assert f"postgresql+psycopg://sync:***@127.0.0.1:{port}/state cannot be opened: OperationalError" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in repr(raised.value.__cause__.args)
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", "no such:thing//x:pw@")
    with pytest.raises(AirflowFailException, match="COMPANY_SYNC_STATE_URL is not a database URL"):
        prepare.prepare("sync", {"params": {}, "dag_run": dag_run()})


def test_prepare_waits_then_fails_naming_the_run_that_holds_the_lease(url, monkeypatch):
    monkeypatch.setenv("COMPANY_SYNC_LEASE_WAIT_MINUTES", "0.01")
    StateStore(url).acquire_lease("company_resync", "manual__other", TTL)
    with pytest.raises(AirflowFailException, match=r"one writer at a time: another run holds the write lease: "
                       r"company_resync/manual__other .*COMPANY_SYNC_LEASE_WAIT_MINUTES"):  # fmt: skip
        prepare.prepare("sync", {"params": {}, "dag_run": dag_run()})
    assert StateStore(url).recent_runs().empty  # nothing read or recorded


def test_prepare_takes_the_lease_and_a_refused_run_gives_it_back(url):
    prepare.prepare("sync", {"params": {}, "dag_run": dag_run()})
    store = StateStore(url)
    assert str(store.lease()) == "company_sync/manual__1"
    assert store.run_wait("manual__1", "company_sync") == {"waited_seconds": 0.0, "waited_for": None}
    store.release_lease("company_sync", "manual__1")
    with pytest.raises(AirflowFailException, match="needs hubspot_company_ids"):
        prepare.prepare("resync", {"params": {}, "dag_run": dag_run("company_resync")})
    assert store.lease() is None


def test_the_failure_callback_marks_a_running_run_failed_and_releases_its_lease(url):
    store = StateStore(url)
    store.start_run("manual__1", "company_sync")
    store.acquire_lease("company_sync", "manual__1", TTL)
    store.start_run("manual__2", "company_sync")
    store.finish_run("manual__2", "success", dag_id="company_sync")

    lease.on_run_failed({"dag_run": dag_run(run_id="manual__1")})
    lease.on_run_failed({"dag": SimpleNamespace(dag_id="company_sync"), "run_id": "manual__2"})  # no dag_run
    lease.on_run_failed({})  # nothing to close: no error either

    assert store.run_status("manual__1", "company_sync") == "failed"
    assert store.run_status("manual__2", "company_sync") == "success"  # the report's outcome stands
    assert store.lease() is None


def test_a_task_of_a_run_whose_lease_was_taken_over_fails_without_retry(url):
    store = StateStore(url)
    store.start_run("manual__1", "company_sync")
    store.acquire_lease("company_sync", "manual__1", TTL, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert store.acquire_lease("company_resync", "manual__2", TTL).took_over is not None
    spec = RunSpec.from_xcom(
        {"dag_id": "company_sync", "run_id": "manual__1", "mode": "sync", "dry_run": False, "full_scan": False,
         "window_start": None, "window_end": None, "window": "", "enabled": True, "enabled_at": None,
         "settings_json": "{}"}
    )  # fmt: skip
    with pytest.raises(AirflowFailException, match="took it over .* abandoned"):
        RunResources(spec).renew_lease()


@pytest.mark.parametrize("key", ["COMPANY_SYNC_LEASE_TTL_MINUTES", "COMPANY_SYNC_LEASE_WAIT_MINUTES"])
@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan"])
def test_lease_settings_are_checked(monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=key):
        Runtime.from_env()
