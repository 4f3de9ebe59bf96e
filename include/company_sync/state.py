"""The sync state store: links, matching-key mirror, last synced values, write ledger, runs, settings.

SQLAlchemy 2 Core on any URL: a SQLite file by default (`.state/company_sync.db` under `COMPANY_SYNC_HOME`,
or the URL in `COMPANY_SYNC_STATE_URL`: `runtime.default_state_url`), PostgreSQL in production with nothing
else changed. Only portable column types are used; timestamps are stored as naive UTC and come back
tz-aware UTC. Upserts use the dialect's `INSERT .. ON CONFLICT` (SQLite, PostgreSQL); other dialects fall
back to delete + insert in the same transaction.

Methods take and return pandas frames (ids as strings). Every write method is one transaction,
sends rows in chunks of `CHUNK` through executemany (1M rows work), and is idempotent: repeating
the same call changes nothing (bookkeeping columns such as `linked_at` keep their first value while
the data stays the same).

SQLite runs in WAL mode with a busy timeout, and write transactions start with `BEGIN IMMEDIATE`, so
parallel Airflow tasks on one machine queue for the write lock instead of failing with
"database is locked".

Tables
- `links`: Account Id ⇄ company id, one-to-one (`account_id` PK, `company_id` unique).
- `key_mirror`: matching keys of every record seen on either side (domain, the other system's id,
  created/modified, deleted), for deduplication without full scans.
- `synced_values`: the last value synced for each (account, mapped field): the base of the three-way
  merge of two-way fields.
- `ledger`: one row per attempted write, success or failure.
- `runs`: one row per DAG run, its window, status and counts.
- `settings_state`: facts about the integration settings over time (when company sync was first on).
- `leases`: the write lease, one writer at a time across the three DAGs (see "Lease" below).

Schema: Alembic migrations (`state_migrations/`), run when a store is opened: a new database is created at
head, an older store (even one made before migrations existed) is upgraded in place with its data, and two
processes opening it at once do not both migrate.

Run statuses (`runs.status`): `running` (prepare recorded it), `success`, `failed` (the report found a failed
task, or the DAG's failure callback saw Airflow fail it), `skipped` (nothing to do, R1), `abandoned` (its
lease expired, a killed or stuck run, and another run took the lease over).

Lease: `acquire_lease` inserts the lease row, or takes it over when it expired (marking the previous
holder's run `abandoned`), in one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: the insert waits on
a concurrent insert of the same key, then `SELECT .. FOR UPDATE`), so two runs can never both hold it.
`renew_lease` pushes its expiry, `release_lease` deletes it; `wait_for_lease` polls until it is free.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from include.company_sync.run_status import RUN_STATUSES
from include.company_sync.state_holds import HoldMethods
from include.company_sync.state_lease import (  # noqa: F401  (the lease's types: API)
    LEASE_NAME,
    LeaseAttempt,
    LeaseHolder,
    LeaseLost,
    LeaseMethods,
    LeaseTimeout,
    LeaseWait,
)
from include.company_sync.state_schema import (  # noqa: F401  (metadata, upsert_statement, UTCDateTime: API)
    _LEDGER_KEY,
    DISABLED_SINCE_KEY,
    ENABLED_AT_KEY,
    LEDGER_COLUMNS,
    LINK_COLUMNS,
    MIRROR_COLUMNS,
    RUN_COLUMNS,
    SQLITE_BUSY_TIMEOUT_MS,
    SYNCED_COLUMNS,
    UTCDateTime,
    _check,
    _chunks,
    _frame,
    _id_list,
    _make_engine,
    _now,
    _records,
    _require,
    _utc,
    _utc_series,
    insert_ignore_statement,
    ledger_t,
    links_t,
    metadata,
    mirror_t,
    runs_t,
    settings_t,
    synced_t,
    upsert_statement,
)

CHUNK = 10_000
IN_CHUNK = 5_000  # ids per IN (...) list; below SQLite's 32,766 bound variables
SYSTEMS = ("salesforce", "hubspot")
OPERATIONS = ("create", "update", "upsert", "link", "attach", "archive", "delete")
RESULTS = ("success", "failed")


def default_url() -> str:
    """`$COMPANY_SYNC_STATE_URL`, else a SQLite file in `.state/` under `$COMPANY_SYNC_HOME` (see `runtime`)."""
    from include.company_sync.runtime import default_state_url

    return default_state_url()


class StateStore(LeaseMethods, HoldMethods):
    """The state database at `url` (created or upgraded to the current schema when opened)."""

    def __init__(self, url: str | None = None, *, echo: bool = False):
        self.url = url or default_url()
        self.engine: Engine = _make_engine(self.url, echo=echo)
        self._renewed: float | None = None  # time.monotonic() of this store's last lease renewal
        self.create_all()

    def __repr__(self) -> str:
        return f"StateStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def create_all(self) -> None:
        """Create or upgrade the schema to the latest migration (`state_migrations.upgrade`: idempotent, safe
        to call from several processes at once)."""
        from include.company_sync import state_migrations

        state_migrations.upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, waiting for the write lock)."""
        with self.engine.connect().execution_options(company_sync_write=True) as conn, conn.begin():
            yield conn

    def _select(self, stmt, columns: Sequence[str], table: sa.Table) -> pd.DataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return _frame(rows, columns, table)

    def _upsert(self, conn: Connection, table: sa.Table, records: list[dict], update: Sequence[str], where=None):
        """Upsert by primary key; `where(excluded)` limits which conflicting rows are updated."""
        stmt = upsert_statement(self.engine.dialect.name, table, update, where)
        if stmt is None:  # a dialect without ON CONFLICT: delete + insert
            keys = [c.name for c in table.primary_key]
            cond = sa.and_(*(table.c[k] == sa.bindparam(f"k_{k}") for k in keys))
            for chunk in _chunks(records, CHUNK):
                conn.execute(table.delete().where(cond), [{f"k_{k}": r[k] for k in keys} for r in chunk])
            stmt = table.insert()
        for chunk in _chunks(records, CHUNK):
            conn.execute(stmt, chunk)

    # -- links ---------------------------------------------------------------------------------

    def links(self) -> pd.DataFrame:
        """Every link: `account_id`, `company_id`."""
        stmt = sa.select(links_t.c.account_id, links_t.c.company_id).order_by(links_t.c.account_id)
        return self._select(stmt, LINK_COLUMNS, links_t)

    def upsert_links(self, df: pd.DataFrame, run_id: str, at=None) -> None:
        """Record links (`account_id`, `company_id`). A link is one-to-one: linking an account or a
        company anew replaces its previous link. An unchanged link keeps its `linked_at` and `run_id`."""
        df = _require(df, LINK_COLUMNS, "links")
        for col in LINK_COLUMNS:
            if df[col].isna().any():
                raise ValueError(f"links: {col} must not be empty")
            dup = df[col][df[col].duplicated()]
            if len(dup):
                raise ValueError(f"links: {col} {dup.iloc[0]!r} appears more than once in one call")
        records = _records(df, LINK_COLUMNS)
        linked_at = _utc(at) if at is not None else _now()
        for r in records:
            r["linked_at"], r["run_id"] = linked_at, run_id
        with self._write() as conn:
            # A company linked to another account gives that link up first (unique company_id).
            stale = links_t.delete().where(
                links_t.c.company_id == sa.bindparam("c"), links_t.c.account_id != sa.bindparam("a")
            )
            for chunk in _chunks(records, CHUNK):
                conn.execute(stale, [{"c": r["company_id"], "a": r["account_id"]} for r in chunk])
            changed = lambda excluded: links_t.c.company_id != excluded.company_id
            self._upsert(conn, links_t, records, ["company_id", "linked_at", "run_id"], changed)

    def remove_links(self, account_ids: Iterable[str]) -> int:
        """Remove the links of these accounts (and their synced values: no link, no merge base)."""
        ids = _id_list(account_ids)
        removed = 0
        with self._write() as conn:
            for chunk in _chunks(ids, IN_CHUNK):
                removed += conn.execute(links_t.delete().where(links_t.c.account_id.in_(chunk))).rowcount
                conn.execute(synced_t.delete().where(synced_t.c.account_id.in_(chunk)))
        return removed

    # -- key mirror ----------------------------------------------------------------------------

    def mirror(
        self,
        system: str,
        domains: Iterable[str] | None = None,
        ids: Iterable[str] | None = None,
        external_ids: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """Mirror rows of `system`: all of them, or those matching any of the given domains, record
        ids or external ids. Columns: `system` + `MIRROR_COLUMNS`."""
        _check(system, SYSTEMS, "system")
        cols = ["system", *MIRROR_COLUMNS]
        base = sa.select(*(mirror_t.c[c] for c in cols)).where(mirror_t.c.system == system)
        filters = [(mirror_t.c.domain, domains), (mirror_t.c.record_id, ids), (mirror_t.c.external_id, external_ids)]
        if all(values is None for _, values in filters):
            return self._select(base.order_by(mirror_t.c.record_id), cols, mirror_t)
        rows = []
        with self.engine.connect() as conn:
            for column, values in filters:
                for chunk in _chunks(_id_list(values or ()), IN_CHUNK):
                    rows.extend(conn.execute(base.where(column.in_(chunk))).all())
        out = _frame(rows, cols, mirror_t).drop_duplicates("record_id")
        return out.sort_values("record_id", ignore_index=True)

    def upsert_mirror(self, system: str, df: pd.DataFrame) -> None:
        """Insert or update mirror rows of `system` by `record_id`. Only the columns present in `df`
        are updated; a row whose stored `modified_at` is newer than the incoming one is left alone."""
        _check(system, SYSTEMS, "system")
        df = _require(df, ["record_id"], "mirror")
        present = [c for c in MIRROR_COLUMNS if c in df.columns]
        records = self._mirror_records(system, df)
        update = [c for c in present if c != "record_id"]
        not_older = None
        if "modified_at" in present:
            not_older = lambda excluded: sa.or_(
                excluded.modified_at.is_(None),
                mirror_t.c.modified_at.is_(None),
                excluded.modified_at >= mirror_t.c.modified_at,
            )
        with self._write() as conn:
            self._upsert(conn, mirror_t, records, update, not_older)

    def mirror_size(self, system: str) -> int:
        """How many records of `system` the mirror holds (0: that system was never scanned)."""
        _check(system, SYSTEMS, "system")
        with self.engine.connect() as conn:
            stmt = sa.select(sa.func.count()).select_from(mirror_t).where(mirror_t.c.system == system)
            return int(conn.execute(stmt).scalar_one())

    def replace_mirror(self, system: str, df: pd.DataFrame) -> None:
        """Replace the whole mirror of `system` (a full refresh), in one transaction."""
        _check(system, SYSTEMS, "system")
        df = _require(df, ["record_id"], "mirror")
        records = self._mirror_records(system, df)
        with self._write() as conn:
            conn.execute(mirror_t.delete().where(mirror_t.c.system == system))
            for chunk in _chunks(records, CHUNK):
                conn.execute(mirror_t.insert(), chunk)

    def _mirror_records(self, system: str, df: pd.DataFrame) -> list[dict]:
        if df["record_id"].isna().any():
            raise ValueError("mirror: record_id must not be empty")
        df = df.drop_duplicates("record_id", keep="last")
        full = pd.DataFrame({c: df[c] if c in df.columns else None for c in MIRROR_COLUMNS}, index=df.index)
        full["deleted"] = full["deleted"].fillna(False).astype(bool)
        records = _records(full, MIRROR_COLUMNS, mirror_t)
        for r in records:
            r["system"] = system
        return records

    # -- synced values -------------------------------------------------------------------------

    def synced_values(self, account_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Last synced value per (account, field), for all or some accounts."""
        base = sa.select(*(synced_t.c[c] for c in SYNCED_COLUMNS))
        if account_ids is None:
            return self._select(base.order_by(synced_t.c.account_id, synced_t.c.field), SYNCED_COLUMNS, synced_t)
        rows = []
        with self.engine.connect() as conn:
            for chunk in _chunks(_id_list(account_ids), IN_CHUNK):
                rows.extend(conn.execute(base.where(synced_t.c.account_id.in_(chunk))).all())
        return _frame(rows, SYNCED_COLUMNS, synced_t).sort_values(["account_id", "field"], ignore_index=True)

    def record_synced_values(self, df: pd.DataFrame, at=None) -> None:
        """Record `account_id`, `company_id`, `field`, `value` (text; None for blank) and optionally
        `synced_at` (else `at`, else now). An unchanged value keeps its `synced_at`."""
        df = _require(df, ["account_id", "company_id", "field", "value"], "synced values")
        df = df.drop_duplicates(["account_id", "field"], keep="last")
        if "synced_at" not in df.columns:
            df = df.assign(synced_at=_utc(at) if at is not None else _now())
        records = _records(df, SYNCED_COLUMNS, synced_t)
        changed = lambda excluded: sa.or_(
            synced_t.c.value.is_distinct_from(excluded.value),
            synced_t.c.company_id.is_distinct_from(excluded.company_id),
        )
        with self._write() as conn:
            self._upsert(conn, synced_t, records, ["company_id", "value", "synced_at"], changed)

    # -- ledger --------------------------------------------------------------------------------

    def append_ledger(self, df: pd.DataFrame) -> None:
        """Append write attempts. Required: `run_id`, `system`, `operation`, `result`; `at` defaults
        to now. Rows identical in run, dag, system, operation, record, source, field, result and `at`
        are stored once, so re-appending the same frame (a retried task) adds nothing."""
        df = _require(df, ["run_id", "system", "operation", "result"], "ledger")
        if df.empty:
            return
        for col, allowed in (("system", SYSTEMS), ("operation", OPERATIONS), ("result", RESULTS)):
            bad = set(df[col].dropna().unique()) - set(allowed) | ({None} if df[col].isna().any() else set())
            if bad:
                raise ValueError(f"ledger: {col} must be one of {list(allowed)}, got {sorted(map(str, bad))}")
        full = pd.DataFrame({c: df[c] if c in df.columns else None for c in LEDGER_COLUMNS}, index=df.index)
        full["at"] = _utc_series(full["at"]).fillna(_now())
        records = _records(full, LEDGER_COLUMNS, ledger_t)
        for r in records:
            key = "\x1f".join("" if r[k] is None else str(r[k]) for k in _LEDGER_KEY)
            r["entry_id"] = hashlib.sha1(key.encode()).hexdigest()
        stmt = insert_ignore_statement(self.engine.dialect.name, ledger_t)
        with self._write() as conn:
            if stmt is None:
                existing = set()
                for chunk in _chunks([r["entry_id"] for r in records], IN_CHUNK):
                    existing |= set(conn.scalars(sa.select(ledger_t.c.entry_id).where(ledger_t.c.entry_id.in_(chunk))))
                records = [r for r in records if r["entry_id"] not in existing]
                stmt = ledger_t.insert()
            for chunk in _chunks(records, CHUNK):
                conn.execute(stmt, chunk)

    def ledger(self, run_id: str | None = None, dag_id: str | None = None) -> pd.DataFrame:
        """Ledger rows (of one run, or all), oldest first."""
        stmt = sa.select(*(ledger_t.c[c] for c in LEDGER_COLUMNS))
        if run_id is not None:
            stmt = stmt.where(ledger_t.c.run_id == run_id)
        if dag_id is not None:
            stmt = stmt.where(ledger_t.c.dag_id == dag_id)
        return self._select(stmt.order_by(ledger_t.c.at, ledger_t.c.entry_id), LEDGER_COLUMNS, ledger_t)

    def already_applied(self, run_id: str, system: str, operation: str, dag_id: str | None = None) -> pd.DataFrame:
        """Successful writes of this run, system and operation: what a retried load can skip."""
        stmt = sa.select(*(ledger_t.c[c] for c in LEDGER_COLUMNS)).where(
            ledger_t.c.run_id == run_id,
            ledger_t.c.system == system,
            ledger_t.c.operation == operation,
            ledger_t.c.result == "success",
        )
        if dag_id is not None:
            stmt = stmt.where(ledger_t.c.dag_id == dag_id)
        return self._select(stmt.order_by(ledger_t.c.at, ledger_t.c.entry_id), LEDGER_COLUMNS, ledger_t)

    # -- runs ----------------------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        dag_id: str,
        logical_date=None,
        run_type: str | None = None,
        window_start=None,
        window_end=None,
        started_at=None,
        dry_run: bool = False,
        waited_for: str | None = None,
        waited_seconds: float | None = None,
    ) -> None:
        """Mark a run as running. Calling it again (a retried or cleared run) updates the window and
        sets it running again, keeping the first `started_at`. `waited_for`/`waited_seconds`: the run(s)
        whose write lease this run waited for, and how long (`wait_for_lease`)."""
        record = {
            "run_id": run_id,
            "dag_id": dag_id,
            "logical_date": _utc(logical_date),
            "run_type": None if run_type is None else str(getattr(run_type, "value", run_type)),
            "window_start": _utc(window_start),
            "window_end": _utc(window_end),
            "dry_run": bool(dry_run),
            "started_at": _utc(started_at) if started_at is not None else _now(),
            "finished_at": None,
            "status": "running",
            "counts": None,
            "report_path": None,
            "waited_for": waited_for,
            "waited_seconds": None if waited_seconds is None else float(waited_seconds),
        }
        update = [
            "logical_date", "run_type", "window_start", "window_end", "dry_run", "finished_at", "status",
            "waited_for", "waited_seconds",
        ]  # fmt: skip
        with self._write() as conn:
            self._upsert(conn, runs_t, [record], update)

    def finish_run(
        self,
        run_id: str,
        status: str,
        counts: dict[str, Any] | None = None,
        report_path: str | None = None,
        dag_id: str | None = None,
        finished_at=None,
    ) -> None:
        """Record a run's outcome. Repeating the same outcome changes nothing (not even `finished_at`).
        `dag_id` is needed only when two DAGs share the run id."""
        _check(status, RUN_STATUSES, "status")
        counts_text = None if counts is None else json.dumps(counts, sort_keys=True, default=str)
        with self._write() as conn:
            key = runs_t.c.run_id == run_id
            if dag_id is not None:
                key = sa.and_(key, runs_t.c.dag_id == dag_id)
            matches = conn.execute(sa.select(runs_t.c.dag_id).where(key)).scalars().all()
            if not matches:
                raise LookupError(f"run {run_id!r} was never started (start_run)")
            if len(matches) > 1:
                raise LookupError(f"run id {run_id!r} exists in {sorted(matches)}; pass dag_id")
            unchanged = sa.and_(
                runs_t.c.status == status,
                runs_t.c.counts.is_not_distinct_from(counts_text),
                runs_t.c.report_path.is_not_distinct_from(report_path),
            )
            conn.execute(
                runs_t.update()
                .where(key, sa.not_(unchanged))
                .values(
                    status=status,
                    counts=counts_text,
                    report_path=report_path,
                    finished_at=None if status == "running" else (_utc(finished_at) or _now()),
                )
            )

    def close_run_if_running(self, run_id: str, dag_id: str, status: str, finished_at=None) -> bool:
        """Set a `running` run's status (`failed`, `abandoned`); a run already closed keeps its outcome (the
        report's counts). Returns whether the row changed."""
        _check(status, RUN_STATUSES, "status")
        with self._write() as conn:
            return self._close_if_running(conn, dag_id, run_id, status, _utc(finished_at) or _now()) > 0

    def run_wait(self, run_id: str, dag_id: str) -> dict[str, Any]:
        """`{"waited_seconds", "waited_for"}`: how long the run waited for the write lease, and for whom
        (0 and None when it did not wait, or the run is unknown)."""
        stmt = sa.select(runs_t.c.waited_seconds, runs_t.c.waited_for).where(
            runs_t.c.dag_id == dag_id, runs_t.c.run_id == run_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        seconds = row.waited_seconds if row is not None and row.waited_seconds is not None else 0.0
        return {"waited_seconds": round(float(seconds), 1), "waited_for": None if row is None else row.waited_for}

    def run_status(self, run_id: str, dag_id: str) -> str | None:
        with self.engine.connect() as conn:
            stmt = sa.select(runs_t.c.status).where(runs_t.c.dag_id == dag_id, runs_t.c.run_id == run_id)
            return conn.execute(stmt).scalar()

    def last_successful_window_end(self, dag_id: str) -> pd.Timestamp | None:
        """The latest window end among successful, non-dry runs of `dag_id`: the next run's watermark."""
        stmt = sa.select(sa.func.max(runs_t.c.window_end)).where(
            runs_t.c.dag_id == dag_id, runs_t.c.status == "success", runs_t.c.dry_run.is_(False)
        )
        with self.engine.connect() as conn:
            value = conn.execute(stmt).scalar()
        if value is None:
            return None
        # MAX() over a TypeDecorator column may come back raw (SQLite returns the stored text).
        return _utc(value)

    def recent_runs(
        self,
        dag_id: str | None = None,
        limit: int = 30,
        *,
        status: str | None = None,
        since: pd.Timestamp | None = None,
        until: pd.Timestamp | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """The latest runs, newest first (of `dag_id`, with `status`, started in `[since, until)`: the Sync reports
        page's filters; `offset` pages); `counts` parsed back into dicts."""
        stmt = sa.select(*(runs_t.c[c] for c in RUN_COLUMNS))
        if dag_id is not None:
            stmt = stmt.where(runs_t.c.dag_id == dag_id)
        if status is not None:
            stmt = stmt.where(runs_t.c.status == status)
        if since is not None:
            stmt = stmt.where(runs_t.c.started_at >= since)
        if until is not None:
            stmt = stmt.where(runs_t.c.started_at < until)
        stmt = stmt.order_by(runs_t.c.started_at.desc(), runs_t.c.run_id.desc()).limit(limit).offset(offset)
        df = self._select(stmt, RUN_COLUMNS, runs_t)
        df["counts"] = pd.Series([None if c is pd.NA else json.loads(c) for c in df["counts"]], dtype=object)
        return df

    # -- settings state ------------------------------------------------------------------------

    def company_sync_enabled_at(self) -> pd.Timestamp | None:
        """When company sync was first seen on (R2/R3: accounts created before are "existing")."""
        return self._setting_time(ENABLED_AT_KEY)

    def company_sync_disabled_since(self) -> pd.Timestamp | None:
        """When company sync was seen off, if it has been off since; None while it is on."""
        return self._setting_time(DISABLED_SINCE_KEY)

    def mark_company_sync_enabled(self, at) -> pd.Timestamp:
        """Record that company sync is on at `at`; returns the moment that counts.

        Only the FIRST moment is kept: turning the sync off and on again does not turn accounts
        created in between into "existing" ones (HubSpot's behaviour there is undocumented; adopted:
        the first enablement counts, until `reset_company_sync_enabled` is called explicitly).
        """
        with self._write() as conn:
            self._insert_setting(conn, ENABLED_AT_KEY, _utc(at).isoformat())
            conn.execute(settings_t.delete().where(settings_t.c.key == DISABLED_SINCE_KEY))
        return self.company_sync_enabled_at()

    def mark_company_sync_disabled(self, at=None) -> None:
        """Record that company sync is off (the first moment it was seen off, kept while it stays off).

        The first-enabled moment is kept (see `mark_company_sync_enabled`).
        """
        with self._write() as conn:
            self._insert_setting(conn, DISABLED_SINCE_KEY, (_utc(at) if at is not None else _now()).isoformat())

    def reset_company_sync_enabled(self) -> None:
        """Forget when company sync was first on: the next `mark_company_sync_enabled` starts afresh."""
        with self._write() as conn:
            conn.execute(settings_t.delete().where(settings_t.c.key.in_([ENABLED_AT_KEY, DISABLED_SINCE_KEY])))

    def setting_value(self, key: str) -> str | None:
        """A value kept between runs under `key` (e.g. a read position), or None."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(settings_t.c.value).where(settings_t.c.key == key)).scalar()

    def put_setting_value(self, key: str, value: str) -> None:
        """Keep `value` under `key`, replacing what was there."""
        with self._write() as conn:
            conn.execute(settings_t.delete().where(settings_t.c.key == key))
            conn.execute(settings_t.insert(), [{"key": key, "value": value}])

    def _insert_setting(self, conn: Connection, key: str, value: str) -> None:
        stmt = insert_ignore_statement(self.engine.dialect.name, settings_t)
        if stmt is None:
            if conn.execute(sa.select(settings_t.c.key).where(settings_t.c.key == key)).first():
                return
            stmt = settings_t.insert()
        conn.execute(stmt, [{"key": key, "value": value}])

    def _setting_time(self, key: str) -> pd.Timestamp | None:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(settings_t.c.value).where(settings_t.c.key == key)).scalar()
        return None if value is None else _utc(value)
