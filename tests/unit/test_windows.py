from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from include.company_sync.windows import SyncWindow, sync_window, to_utc

T = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
M15 = timedelta(minutes=15)

# Nightly at 02:00 UTC. The run for [11-28 02:00, 11-29 02:00) runs just after 11-29 02:00.
DIS, DIE = T("2026-11-28 02:00"), T("2026-11-29 02:00")
NOW = T("2026-11-29 11:24")

# fmt: off
CASES = [
    # id, run_type, dis, die, run_after, last_success_end, full_refresh, overlap, start, end, kind
    ("scheduled", "scheduled", DIS, DIE, DIE, DIS, False, M15, DIS - M15, DIE, "interval"),
    ("scheduled first ever run", "scheduled", DIS, DIE, DIE, None, False, M15, DIS - M15, DIE, "interval"),
    ("scheduled after manual run", "scheduled", DIS, DIE, DIE, T("2026-11-28 09:00"), False, M15,
     DIS - M15, DIE, "interval"),
    ("scheduled after a failed night catches up", "scheduled", DIS, DIE, DIE, T("2026-11-27 02:00"), False, M15,
     T("2026-11-27 01:45"), DIE, "catch_up"),
    ("scheduled, no overlap", "scheduled", DIS, DIE, DIE, DIS, False, timedelta(0), DIS, DIE, "interval"),
    ("scheduled, 1h overlap", "scheduled", DIS, DIE, DIE, DIS, False, timedelta(hours=1),
     T("2026-11-28 01:00"), DIE, "interval"),
    ("manual first run: full scan to now", "manual", DIS, DIE, NOW, None, False, M15, None, NOW, "full_scan"),
    ("manual after success: since then, to now", "manual", DIS, DIE, NOW, DIE, False, M15,
     DIE - M15, NOW, "since_last_success"),
    ("manual after earlier manual run", "manual", DIS, DIE, NOW, T("2026-11-29 10:00"), False, M15,
     T("2026-11-29 09:45"), NOW, "since_last_success"),
    ("manual of a past date after later success: its interval", "manual",
     T("2026-11-26 02:00"), T("2026-11-27 02:00"), T("2026-11-27 02:00"), DIE, False, M15,
     T("2026-11-26 01:45"), T("2026-11-27 02:00"), "interval"),
    ("backfill of a past date: its interval exactly", "backfill",
     T("2026-11-01 02:00"), T("2026-11-02 02:00"), NOW, DIE, False, M15,
     T("2026-11-01 01:45"), T("2026-11-02 02:00"), "backfill"),
    ("backfill ignores an older last success", "backfill",
     T("2026-11-01 02:00"), T("2026-11-02 02:00"), NOW, T("2026-10-01"), False, M15,
     T("2026-11-01 01:45"), T("2026-11-02 02:00"), "backfill"),
    ("full refresh, scheduled", "scheduled", DIS, DIE, DIE, DIS, True, M15, None, DIE, "full_refresh"),
    ("full refresh, manual ends now", "manual", DIS, DIE, NOW, DIE, True, M15, None, NOW, "full_refresh"),
    ("asset-triggered behaves like manual", "asset_triggered", DIS, DIE, NOW, DIE, False, M15,
     DIE - M15, NOW, "since_last_success"),
    ("operator-triggered behaves like manual", "operator_triggered", None, None, NOW, None, False, M15,
     None, NOW, "full_scan"),
    ("no timetable interval (start None)", "scheduled", None, DIE, DIE, DIS, False, M15,
     DIS - M15, DIE, "since_last_success"),
    ("empty interval (plain cron string)", "scheduled", DIE, DIE, DIE, DIS, False, M15,
     DIS - M15, DIE, "since_last_success"),
    ("no interval at all, manual", "manual", None, None, NOW, None, False, M15, None, NOW, "full_scan"),
]
# fmt: on


@pytest.mark.parametrize(
    "run_type,dis,die,run_after,last,full_refresh,overlap,start,end,kind",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_sync_window(run_type, dis, die, run_after, last, full_refresh, overlap, start, end, kind):
    w = sync_window(run_type, dis, die, run_after, last, full_refresh=full_refresh, overlap=overlap)
    assert w == SyncWindow(start, end, kind)
    assert w.end.tzinfo is not None and str(w.end.tz) == "UTC"
    assert w.start is None or w.start < w.end


def test_default_overlap_is_15_minutes():
    w = sync_window("scheduled", DIS, DIE, DIE, None)
    assert w.start == DIS - timedelta(minutes=15)


def test_accepts_datetimes_pendulum_strings_and_enums():
    pendulum = pytest.importorskip("pendulum")
    from airflow.utils.types import DagRunType

    w = sync_window(
        DagRunType.MANUAL,
        pendulum.datetime(2026, 11, 28, 2, tz="UTC"),
        datetime(2026, 11, 29, 2, tzinfo=UTC),
        "2026-11-29T12:24:00+01:00",
        pendulum.datetime(2026, 11, 29, 3, tz="Europe/Paris"),
    )
    assert w == SyncWindow(T("2026-11-29 01:45"), NOW, "since_last_success")


def test_naive_moments_are_utc():
    assert to_utc(datetime(2026, 1, 1, 5)) == T("2026-01-01 05:00")


def test_describe_and_contains():
    w = sync_window("scheduled", DIS, DIE, DIE, None)
    assert w.describe() == "interval window [2026-11-28T01:45:00+00:00, 2026-11-29T02:00:00+00:00)"
    assert w.contains(DIS - timedelta(minutes=1)) and not w.contains(DIE)
    full = sync_window("manual", None, None, NOW, None)
    assert "the beginning" in full.describe() and full.is_full_scan and full.contains(T("1990-01-01"))


def test_window_is_frozen():
    w = sync_window("scheduled", DIS, DIE, DIE, None)
    with pytest.raises(AttributeError):
        w.start = None  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(run_type="nightly"), "unknown run type"),
        (dict(data_interval_start=DIE, data_interval_end=DIS), "after its end"),
        (dict(run_type="manual", data_interval_start=None, data_interval_end=None, run_after=None), "run_after"),
        (dict(overlap=timedelta(minutes=-1)), "negative"),
    ],
)
def test_refuses_bad_input(kwargs, message):
    args = (
        dict(run_type="scheduled", data_interval_start=DIS, data_interval_end=DIE, run_after=DIE, last_success_end=None)
        | kwargs
    )
    with pytest.raises(ValueError, match=message):
        sync_window(**args)
