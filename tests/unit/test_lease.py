"""The write lease (issue #12: one writer at a time across company_sync, company_resync and
salesforce_account_import), on SQLite and PostgreSQL (tests/pg.py)."""

import logging
import threading
from datetime import timedelta

import pandas as pd
import pytest

from include.company_sync.state import LeaseLost, LeaseTimeout, StateStore

TTL = timedelta(minutes=15)
T0 = pd.Timestamp("2026-03-01 02:00", tz="UTC")


@pytest.fixture
def store(state_url):
    s = StateStore(state_url)
    yield s
    s.dispose()


def test_one_holder_at_a_time_renewed_by_itself_and_released(store):
    first = store.acquire_lease("company_sync", "r1", TTL, now=T0)
    assert first.acquired and str(first.holder) == "company_sync/r1"
    second = store.acquire_lease("company_resync", "m1", TTL, now=T0 + pd.Timedelta(minutes=1))
    assert not second.acquired and str(second.holder) == "company_sync/r1"
    assert second.holder.expires_at == T0 + TTL
    again = store.acquire_lease("company_sync", "r1", TTL, now=T0 + pd.Timedelta(minutes=5))  # a cleared prepare
    assert (
        again.acquired and again.holder.acquired_at == T0 and again.holder.expires_at == T0 + pd.Timedelta(minutes=20)
    )
    assert store.release_lease("company_resync", "m1") is False  # not the holder: nothing changes
    assert store.release_lease("company_sync", "r1") is True
    assert store.release_lease("company_sync", "r1") is False  # idempotent
    assert store.lease() is None
    assert store.acquire_lease("company_resync", "m1", TTL, now=T0 + pd.Timedelta(minutes=6)).acquired


def test_an_expired_lease_is_taken_over_and_its_run_marked_abandoned(store):
    store.start_run("killed", "company_sync", started_at=T0)
    store.acquire_lease("company_sync", "killed", TTL, now=T0)
    assert not store.acquire_lease("company_resync", "m1", TTL, now=T0 + TTL - pd.Timedelta(seconds=1)).acquired
    taken = store.acquire_lease("company_resync", "m1", TTL, now=T0 + TTL + pd.Timedelta(seconds=1))
    assert taken.acquired and str(taken.took_over) == "company_sync/killed"
    assert store.run_status("killed", "company_sync") == "abandoned"
    assert str(store.lease()) == "company_resync/m1"
    with pytest.raises(LeaseLost, match="company_sync/killed.*company_resync/m1.*abandoned"):
        store.renew_lease("company_sync", "killed", TTL)  # the killed run's task, had it come back
    assert store.release_lease("company_sync", "killed") is False  # its report cannot free m1's lease


def test_renewal_pushes_the_expiry_and_is_throttled(store):
    store.acquire_lease("company_sync", "r1", TTL, now=T0)
    holder = store.renew_lease("company_sync", "r1", TTL)
    assert holder.expires_at > pd.Timestamp.now(tz="UTC") + TTL - pd.Timedelta(minutes=1)
    assert store.renew_lease("company_sync", "r1", TTL, at_most_every=60) is None  # renewed a moment ago
    store.release_lease("company_sync", "r1")
    assert store.renew_lease("company_sync", "r1", TTL) is None  # not held: a warning, no error, not re-taken
    assert store.lease() is None


def test_racing_runs_never_both_acquire(state_url):
    barrier, results, errors = threading.Barrier(6), [], []

    def race(i):
        s = StateStore(state_url)
        try:
            barrier.wait(10)
            results.append(s.acquire_lease("company_sync", f"r{i}", TTL).acquired)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            s.dispose()

    StateStore(state_url).dispose()
    threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and sorted(results) == [False] * 5 + [True]


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.on_sleep = lambda now: None

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.on_sleep(self.now)


def test_a_second_run_waits_logging_every_30_s_then_gets_it(store, caplog):
    store.acquire_lease("company_sync", "nightly", TTL)
    clock = FakeClock()
    clock.on_sleep = lambda now: now >= 70 and store.release_lease("company_sync", "nightly")
    with caplog.at_level(logging.INFO, logger="include.company_sync.state"):
        got = store.wait_for_lease(
            "company_resync", "m1", TTL, timedelta(minutes=30), poll_seconds=5, sleep=clock.sleep, clock=clock
        )
    assert str(got.holder) == "company_resync/m1" and got.waited_for == "company_sync/nightly"
    assert got.waited_seconds == 70
    waits = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting for the write lease")]
    assert len(waits) == 3  # at 0, 30 and 60 s
    assert all("held by company_sync/nightly until" in m for m in waits)


def test_a_run_that_waits_too_long_fails_naming_the_holder(store):
    store.acquire_lease("salesforce_account_import", "manual__1", TTL)
    clock = FakeClock()
    with pytest.raises(LeaseTimeout, match=r"salesforce_account_import/manual__1 .*waited 120 s") as raised:
        store.wait_for_lease(
            "company_sync", "r2", TTL, timedelta(minutes=2), poll_seconds=5, sleep=clock.sleep, clock=clock
        )
    assert str(raised.value.holder) == "salesforce_account_import/manual__1"


def test_a_free_lease_means_no_wait(store):
    got = store.wait_for_lease("company_sync", "r1", TTL, timedelta(minutes=30))
    assert (got.waited_seconds, got.waited_for, got.took_over) == (0.0, None, None)
