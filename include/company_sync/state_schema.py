"""The state store's schema and SQL plumbing (`state.StateStore` is the API): tables, portable UTC timestamps,
dialect upsert statements, the engine (SQLite in WAL mode, writes under `BEGIN IMMEDIATE`), and the
conversion of pandas frames to driver rows and back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

SQLITE_BUSY_TIMEOUT_MS = 60_000
# Alembic's version table of the state store (not `alembic_version`: the store may share a database with
# another Alembic user, such as Airflow's metadata DB).
VERSION_TABLE = "company_sync_schema_version"


class UTCDateTime(TypeDecorator):
    """A moment in UTC, stored naive (portable); aware in, aware out. Naive input is taken as UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or value is pd.NaT:
            return None
        if isinstance(value, str):
            value = pd.Timestamp(value)
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


# Every column holding data from the CRMs (ids, domains, field names, values, error codes) is unbounded text:
# real data can exceed any declared length (issue #12: a 300-character website host), and PostgreSQL
# enforces one. Only values this code chooses (system, operation, result, status...) are bounded.
ID = sa.Text
metadata = sa.MetaData()

links_t = sa.Table(
    "links",
    metadata,
    sa.Column("account_id", ID, primary_key=True),
    sa.Column("company_id", ID, nullable=False, unique=True),
    sa.Column("linked_at", UTCDateTime, nullable=False),
    sa.Column("run_id", ID),
)

mirror_t = sa.Table(
    "key_mirror",
    metadata,
    sa.Column("system", sa.String(16), primary_key=True),
    sa.Column("record_id", ID, primary_key=True),
    sa.Column("domain", ID),
    sa.Column("external_id", ID),
    sa.Column("created_at", UTCDateTime),
    sa.Column("modified_at", UTCDateTime),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_key_mirror_domain", "system", "domain"),
    sa.Index("ix_key_mirror_external_id", "system", "external_id"),
)

synced_t = sa.Table(
    "synced_values",
    metadata,
    sa.Column("account_id", ID, primary_key=True),
    sa.Column("field", sa.Text, primary_key=True),
    sa.Column("company_id", ID, nullable=False),
    sa.Column("value", sa.Text),
    sa.Column("synced_at", UTCDateTime, nullable=False),
)

ledger_t = sa.Table(
    "ledger",
    metadata,
    # A digest of the row's identity, so appending the same rows again inserts nothing.
    sa.Column("entry_id", sa.String(40), primary_key=True),
    sa.Column("run_id", ID, nullable=False),
    sa.Column("dag_id", ID),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("record_id", ID),
    sa.Column("source_id", ID),
    sa.Column("field", sa.Text),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("error_category", sa.String(64)),
    sa.Column("error_code", sa.Text),
    sa.Column("message", sa.Text),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_ledger_run", "run_id", "system", "operation", "result"),
)

runs_t = sa.Table(
    "runs",
    metadata,
    sa.Column("dag_id", ID, primary_key=True),
    sa.Column("run_id", ID, primary_key=True),
    sa.Column("logical_date", UTCDateTime),
    sa.Column("run_type", sa.String(32)),
    sa.Column("window_start", UTCDateTime),
    sa.Column("window_end", UTCDateTime),
    sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("counts", sa.Text),
    sa.Column("report_path", sa.Text),
    # The run waited this long for the write lease held by that run ("<dag_id>/<run_id>"): see `leases`.
    sa.Column("waited_for", sa.Text),
    sa.Column("waited_seconds", sa.Float),
    sa.Index("ix_runs_dag_status", "dag_id", "status", "window_end"),
)

leases_t = sa.Table(
    "leases",
    metadata,
    # One writer at a time (issue #12): the three DAGs hold the lease `LEASE_NAME` from `prepare` to `report`.
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("dag_id", ID, nullable=False),
    sa.Column("run_id", ID, nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("renewed_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

holds_t = sa.Table(
    "holds",
    metadata,
    # Records a rollback put on hold (issue #16): company_sync skips them until released.
    sa.Column("system", sa.String(16), primary_key=True),
    sa.Column("record_id", ID, primary_key=True),
    sa.Column("run_id", ID, nullable=False),  # the rollback run that put it on hold
    sa.Column("rolled_back_run_id", ID),  # the run it rolled back
    sa.Column("held_at", UTCDateTime, nullable=False),
    sa.Index("ix_holds_run", "run_id"),
)

synced_before_t = sa.Table(
    "synced_before",
    metadata,
    # What `synced_values` held for a (account, field) before a run replaced it (issue #16: a rollback puts it
    # back); `existed` false: there was no row.
    sa.Column("run_id", ID, primary_key=True),
    sa.Column("account_id", ID, primary_key=True),
    sa.Column("field", sa.Text, primary_key=True),
    sa.Column("existed", sa.Boolean, nullable=False),
    sa.Column("company_id", ID),
    sa.Column("value", sa.Text),
    sa.Column("synced_at", UTCDateTime),
)

settings_t = sa.Table(
    "settings_state",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text),
)

LINK_COLUMNS = ["account_id", "company_id"]
MIRROR_COLUMNS = ["record_id", "domain", "external_id", "created_at", "modified_at", "deleted"]
SYNCED_COLUMNS = ["account_id", "company_id", "field", "value", "synced_at"]
LEDGER_COLUMNS = [c.name for c in ledger_t.columns if c.name != "entry_id"]
RUN_COLUMNS = [
    "run_id", "dag_id", "logical_date", "run_type", "window_start", "window_end", "dry_run",
    "started_at", "finished_at", "status", "counts", "report_path", "waited_for", "waited_seconds",
]  # fmt: skip
HOLD_COLUMNS = ["system", "record_id", "run_id", "rolled_back_run_id", "held_at"]
SYNCED_BEFORE_COLUMNS = ["run_id", "account_id", "field", "existed", "company_id", "value", "synced_at"]
LEASE_COLUMNS = ["name", "dag_id", "run_id", "acquired_at", "renewed_at", "expires_at"]
_LEDGER_KEY = ["run_id", "dag_id", "system", "operation", "record_id", "source_id", "field", "result", "at"]

ENABLED_AT_KEY = "company_sync_enabled_at"
DISABLED_SINCE_KEY = "company_sync_disabled_since"


# -- statements --------------------------------------------------------------------------------


def _dialect_insert(dialect_name: str, table: sa.Table):
    if dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        return None
    return insert(table)


def upsert_statement(dialect_name: str, table: sa.Table, update: Sequence[str], where=None):
    """`INSERT .. ON CONFLICT (pk) DO UPDATE SET <update> [WHERE ..]` for SQLite and PostgreSQL
    (None for other dialects). With nothing to update: `DO NOTHING`. `where` is a function of the
    statement's `excluded` row."""
    stmt = _dialect_insert(dialect_name, table)
    if stmt is None:
        return None
    keys = [c.name for c in table.primary_key]
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={c: stmt.excluded[c] for c in update},
        where=None if where is None else where(stmt.excluded),
    )


def insert_ignore_statement(dialect_name: str, table: sa.Table):
    stmt = _dialect_insert(dialect_name, table)
    return None if stmt is None else stmt.on_conflict_do_nothing(index_elements=[c.name for c in table.primary_key])


# -- engine ------------------------------------------------------------------------------------


def _make_engine(url: str, echo: bool = False) -> Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        echo=echo,
        hide_parameters=True,  # record values never reach an exception message or a log
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not sqlite3, emit BEGIN (so writes can BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("company_sync_write") else "BEGIN")

    return engine


# -- frames ------------------------------------------------------------------------------------


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _utc(value) -> pd.Timestamp | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _utc_series(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s, utc=True, format="ISO8601") if s.dtype == object or s.dtype.kind in "OSU" else s
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        s = pd.to_datetime(s, utc=True)
    return s.dt.tz_convert("UTC")


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}")
    return df


def _check(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {list(allowed)}, got {value!r}")


def _id_list(values: Iterable[Any]) -> list[str]:
    if isinstance(values, str):
        raise TypeError("pass a list of ids, not a single string")
    return sorted({str(v) for v in values if v is not None and not (not isinstance(v, str) and pd.isna(v))})


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _column_values(s: pd.Series, column: sa.Column | None) -> list:
    """A column's values as Python objects for the driver: None for missing, str for text."""
    kind = None if column is None else column.type
    if isinstance(kind, UTCDateTime):
        s = _utc_series(s).dt.tz_localize(None)
        return [None if v is pd.NaT else v.to_pydatetime() for v in s.astype(object)]
    if isinstance(kind, sa.Boolean):
        return [bool(v) for v in s]
    if s.dtype != object and not pd.api.types.is_string_dtype(s.dtype):
        s = s.astype("string")  # numbers etc. → text, keeping missing values missing
    values = s.astype(object).tolist()
    return [None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in values]


def _records(df: pd.DataFrame, columns: Sequence[str], table: sa.Table | None = None) -> list[dict]:
    lists = [_column_values(df[c], None if table is None else table.c[c]) for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*lists, strict=True)]


def _frame(rows: list, columns: Sequence[str], table: sa.Table) -> pd.DataFrame:
    """Rows to a frame with stable dtypes: string ids/text, tz-aware UTC datetimes, bool flags."""
    data = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    out = {}
    for name, values in zip(columns, data, strict=True):
        kind = table.c[name].type
        if isinstance(kind, UTCDateTime):
            out[name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True).astype("datetime64[us, UTC]")
        elif isinstance(kind, sa.Boolean):
            out[name] = pd.Series(values, dtype=bool)
        elif isinstance(kind, sa.Float):
            out[name] = pd.Series(values, dtype="Float64")
        else:
            out[name] = pd.Series(values, dtype="string")
    return pd.DataFrame(out, columns=list(columns))
