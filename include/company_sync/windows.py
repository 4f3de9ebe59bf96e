"""The sync window of a run: which changes (by `SystemModstamp` / `hs_lastmodifieddate`) it reads.

Pure functions, no Airflow import: the DAG passes in what the run context knows.

Rules (the window is half-open, `[start, end)`; `start=None` means unbounded, a full scan):

| run | window | kind |
|---|---|---|
| `full_refresh=True` (any run type) | `[None, end)` | `full_refresh` |
| scheduled | `[data_interval_start - overlap, data_interval_end)` | `interval` |
| scheduled after a failed night | `[last_success_end - overlap, data_interval_end)` | `catch_up` |
| backfill | `[data_interval_start - overlap, data_interval_end)` exactly | `backfill` |
| manual, operator- or asset-triggered | `[last_success_end - overlap, run_after)`: "sync now" | `since_last_success` |
| the same, no successful run yet | `[None, run_after)` | `full_scan` |

Airflow 3's `CronDataIntervalTimetable` gives a manual run the last *complete* interval, never "now",
so a manual window ends at `run_after` (the trigger moment), or at `data_interval_end` when that is
later. A manual run whose "since last success" start would not be before its end (a manual run of a
past date, after later runs succeeded) re-syncs its own data interval instead (`interval`).
A scheduled run without a usable interval (`data_interval_start` None, or an empty interval as plain
cron strings give) is treated like a manual run.

The overlap (default 15 minutes) re-reads the edge of the previous window: records sharing a
`SystemModstamp` with the watermark, and HubSpot search indexing that lags behind writes. Reading a
record twice is harmless (loads are idempotent); missing one is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

DEFAULT_OVERLAP = timedelta(minutes=15)

SCHEDULED = "scheduled"
BACKFILL = "backfill"
MANUAL = "manual"
# Run types that mean "sync what changed since the last success, up to now" (DagRunType values).
SYNC_NOW_RUN_TYPES = frozenset({MANUAL, "operator_triggered", "asset_triggered", "asset_materialization"})
KNOWN_RUN_TYPES = SYNC_NOW_RUN_TYPES | {SCHEDULED, BACKFILL}


@dataclass(frozen=True)
class SyncWindow:
    """`[start, end)` in UTC; `start=None` is an unbounded start (a full scan)."""

    start: pd.Timestamp | None
    end: pd.Timestamp
    kind: str

    @property
    def is_full_scan(self) -> bool:
        return self.start is None

    def contains(self, ts) -> bool:
        """Whether a moment falls in the window (half-open)."""
        t = to_utc(ts)
        return (self.start is None or t >= self.start) and t < self.end

    def describe(self) -> str:
        start = "the beginning" if self.start is None else self.start.isoformat()
        return f"{self.kind} window [{start}, {self.end.isoformat()})"


def to_utc(value: datetime | pd.Timestamp | str) -> pd.Timestamp:
    """A tz-aware UTC Timestamp; naive values are taken to be UTC already."""
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError("a moment is required, got NaT")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _opt_utc(value) -> pd.Timestamp | None:
    return None if value is None or pd.isna(value) else to_utc(value)


def sync_window(
    run_type: str,
    data_interval_start,
    data_interval_end,
    run_after,
    last_success_end,
    full_refresh: bool = False,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> SyncWindow:
    """The window a run syncs; see the module docstring for the rules.

    `run_type` is a `DagRunType` or its string value. Moments may be datetimes, pendulum
    DateTimes, Timestamps or ISO strings; the result is in UTC.
    """
    run_type = str(getattr(run_type, "value", run_type))
    if run_type not in KNOWN_RUN_TYPES:
        raise ValueError(f"unknown run type {run_type!r}; expected one of {sorted(KNOWN_RUN_TYPES)}")
    if overlap < timedelta(0):
        raise ValueError("overlap must not be negative")
    dis, die = _opt_utc(data_interval_start), _opt_utc(data_interval_end)
    after, last = _opt_utc(run_after), _opt_utc(last_success_end)
    if dis is not None and die is not None and dis > die:
        raise ValueError(f"data interval start {dis} is after its end {die}")

    has_interval = dis is not None and die is not None and dis < die
    if run_type in (SCHEDULED, BACKFILL) and has_interval:
        end = die
    else:
        candidates = [t for t in (after, die) if t is not None]
        if not candidates:
            raise ValueError("a run needs run_after or data_interval_end to bound its window")
        end = max(candidates)

    if full_refresh:
        return SyncWindow(None, end, "full_refresh")

    if run_type == BACKFILL and has_interval:
        return SyncWindow(dis - overlap, end, "backfill")
    if run_type == SCHEDULED and has_interval:
        if last is not None and last < dis:
            return SyncWindow(last - overlap, end, "catch_up")
        return SyncWindow(dis - overlap, end, "interval")

    # "Sync now": manual-like runs, and scheduled/backfill runs without a usable interval.
    if last is None:
        return SyncWindow(None, end, "full_scan")
    start = last - overlap
    if start >= end:
        # A run dated before the last success: re-sync its own interval rather than nothing.
        start = (dis if has_interval else end) - overlap
        return SyncWindow(start, end, "interval")
    return SyncWindow(start, end, "since_last_success")
