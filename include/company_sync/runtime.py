"""Where a deployment keeps its state, staging and reports, and which connections it uses.

Infrastructure, not integration behaviour (that is `company_sync_settings`): read from the environment so
that the same DAGs run on a laptop (defaults under the project folder) and on Celery/Kubernetes workers
(`COMPANY_SYNC_STATE_URL=postgresql+psycopg://…`, `COMPANY_SYNC_STAGING_URL=s3://conn@bucket/prefix`,
`COMPANY_SYNC_REPORTS_URL=s3://conn@bucket/reports`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path


# --- default paths: the one source for the state store, staging, reports and the UI plugin ---------------
def project_home() -> Path:
    """`$COMPANY_SYNC_HOME`, else this project's folder: where the default state, staging and reports live."""
    return Path(os.environ.get("COMPANY_SYNC_HOME") or Path(__file__).resolve().parents[2])


def default_state_file() -> Path:
    """The SQLite file of the default state store."""
    return project_home() / ".state" / "company_sync.db"


def default_state_url() -> str:
    """`$COMPANY_SYNC_STATE_URL`, else a SQLite file in the project's `.state/` folder."""
    return os.environ.get("COMPANY_SYNC_STATE_URL") or f"sqlite:///{default_state_file()}"


def default_staging_url() -> str:
    """`$COMPANY_SYNC_STAGING_URL`, else the project's `.staging/` folder (as a file URL)."""
    return os.environ.get("COMPANY_SYNC_STAGING_URL") or (project_home() / ".staging").as_uri()


def default_reports_dir() -> Path:
    """`$COMPANY_SYNC_REPORTS_DIR`, else the project's `.reports/` folder: the local form of the reports' place
    (`default_reports_url` wins when `$COMPANY_SYNC_REPORTS_URL` is set)."""
    return Path(os.environ.get("COMPANY_SYNC_REPORTS_DIR") or project_home() / ".reports")


def default_reports_url() -> str:
    """Where run reports and their Data Docs go, as a URL for `ObjectStoragePath`: `$COMPANY_SYNC_REPORTS_URL`
    (`s3://conn@bucket/prefix`, `gs://…`, `file:///abs/path`; a plain path is taken as a local folder), else
    `default_reports_dir()` as a file URL."""
    url = (os.environ.get("COMPANY_SYNC_REPORTS_URL") or "").strip()
    if not url:
        return default_reports_dir().resolve().as_uri()
    return url if "://" in url else Path(url).resolve().as_uri()


@dataclass(frozen=True)
class Runtime:
    state_url: str
    staging_url: str
    reports_dir: Path  # the local form (`COMPANY_SYNC_REPORTS_DIR`); tasks and the UI use `reports_url`
    salesforce_conn_id: str
    hubspot_conn_id: str
    # The circuit breaker (threshold: the `max_change_ratio` setting) only judges runs that considered at
    # least this many records.
    breaker_min_records: int
    # Backoff factor of the one retry policy per API (seconds; doubled on each retry, Retry-After wins).
    retry_backoff: float
    # How far a window reaches back before its start (SystemModstamp ties, HubSpot's search indexing delay).
    window_overlap: timedelta
    # How long a failed run's staged frames are kept for debugging (a succeeded run's go at once): the next
    # run's `prepare` removes every DAG's run folders older than this.
    staging_retention: timedelta = timedelta(days=7)
    # The write lease: expiry after the last renewal, and how long `prepare` waits for another run's.
    lease_ttl: timedelta = timedelta(minutes=15)
    lease_wait: timedelta = timedelta(minutes=30)
    # Where reports and Data Docs are written and read (`default_reports_url`): a file URL or object storage.
    reports_url: str = ""

    @classmethod
    def from_env(cls) -> Runtime:
        env = os.environ.get
        try:
            minimum = int(env("COMPANY_SYNC_BREAKER_MIN_RECORDS", "1000"))
            backoff = float(env("COMPANY_SYNC_RETRY_BACKOFF", "0.5"))
            overlap = timedelta(minutes=float(env("COMPANY_SYNC_WINDOW_OVERLAP_MINUTES", "15")))
        except ValueError as exc:
            raise ValueError(
                "COMPANY_SYNC_BREAKER_MIN_RECORDS / COMPANY_SYNC_RETRY_BACKOFF / "
                f"COMPANY_SYNC_WINDOW_OVERLAP_MINUTES: {exc}"
            ) from exc
        if overlap < timedelta(0):
            raise ValueError("COMPANY_SYNC_WINDOW_OVERLAP_MINUTES must not be negative")
        retention = _retention(env("COMPANY_SYNC_STAGING_RETENTION_DAYS", "7"))
        return cls(
            state_url=default_state_url(),
            staging_url=default_staging_url(),
            reports_dir=default_reports_dir(),
            salesforce_conn_id=env("COMPANY_SYNC_SALESFORCE_CONN_ID", "salesforce_default"),
            hubspot_conn_id=env("COMPANY_SYNC_HUBSPOT_CONN_ID", "hubspot_default"),
            breaker_min_records=minimum,
            retry_backoff=backoff,
            window_overlap=overlap,
            staging_retention=retention,
            lease_ttl=lease_ttl(),
            lease_wait=lease_wait(),
            reports_url=default_reports_url(),
        )

    def retry_policy(self):
        from include.company_sync.connectors.http_policy import RetryPolicy

        return RetryPolicy(backoff_factor=self.retry_backoff)


def _retention(text: str) -> timedelta:
    """`COMPANY_SYNC_STAGING_RETENTION_DAYS`: a number of days, 0 or more (fractions allowed)."""
    try:
        days = float(text)
    except ValueError:
        days = float("nan")
    if not days >= 0 or days == float("inf"):  # also refuses nan
        raise ValueError(f"COMPANY_SYNC_STAGING_RETENTION_DAYS must be a number of days, 0 or more (got {text!r})")
    return timedelta(days=days)


def lean_memory_for_planning() -> str:
    """Tune this process's allocators for planning: arrow buffers from jemalloc, big numpy arrays from mmap.

    Planning a million accounts against a million companies peaks about 0.3 GiB lower with both (see
    benchmarks/bench_engine.py): mimalloc, the arrow wheels' default, keeps freed pages for reuse, and glibc
    serves arrays below its (growing, up to 32 MiB) mmap threshold from a heap that fragments and is never given
    back. Process-wide, so the task that plans calls it, never the engine. Returns what was applied."""
    import ctypes

    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # a build without jemalloc keeps its default pool
        pass
    applied = [f"arrow pool {pa.default_memory_pool().backend_name}"]
    try:
        if ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20) == 1:  # M_MMAP_THRESHOLD: 1 MiB, fixed
            applied.append("glibc mmap threshold 1 MiB")
    except (OSError, AttributeError):  # not glibc
        pass
    return ", ".join(applied)


# --- the write lease (one writer at a time across the three DAGs: state.StateStore.wait_for_lease) -------------
def _minutes(key: str, default: str) -> timedelta:
    text = os.environ.get(key, default)
    try:
        minutes = float(text)
    except ValueError:
        minutes = float("nan")
    if not minutes > 0 or minutes == float("inf"):  # also refuses nan
        raise ValueError(f"{key} must be a number of minutes above 0 (got {text!r})")
    return timedelta(minutes=minutes)


def lease_ttl() -> timedelta:
    """`COMPANY_SYNC_LEASE_TTL_MINUTES` (default 15): a run's lease expires this long after its last renewal
    (every task renews it when it starts, the loads every minute), so a killed run's lease frees itself."""
    return _minutes("COMPANY_SYNC_LEASE_TTL_MINUTES", "15")


def lease_wait() -> timedelta:
    """`COMPANY_SYNC_LEASE_WAIT_MINUTES` (default 30): how long `prepare` waits for another run's lease."""
    return _minutes("COMPANY_SYNC_LEASE_WAIT_MINUTES", "30")
