"""The state store's migrations (include/company_sync/state_migrations): a store created by the code before
migrations upgrades in place with its data, head equals `state_schema.metadata`, and stores opened at the
same moment migrate once. On SQLite and on PostgreSQL (tests/pg.py)."""

import threading
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from include.company_sync import state_migrations
from include.company_sync.state import StateStore
from include.company_sync.state_schema import VERSION_TABLE, metadata

T = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731


def pre_migration_metadata() -> sa.MetaData:
    """The schema as `metadata.create_all` made it before migrations existed (main before issue #12)."""
    old, ID = sa.MetaData(), sa.String(255)
    sa.Table(
        "links", old,
        sa.Column("account_id", ID, primary_key=True), sa.Column("company_id", ID, nullable=False, unique=True),
        sa.Column("linked_at", sa.DateTime, nullable=False), sa.Column("run_id", ID),
    )  # fmt: skip
    sa.Table(
        "key_mirror", old,
        sa.Column("system", sa.String(16), primary_key=True), sa.Column("record_id", ID, primary_key=True),
        sa.Column("domain", ID), sa.Column("external_id", ID), sa.Column("created_at", sa.DateTime),
        sa.Column("modified_at", sa.DateTime), sa.Column("deleted", sa.Boolean, nullable=False, default=False),
        sa.Index("ix_key_mirror_domain", "system", "domain"),
        sa.Index("ix_key_mirror_external_id", "system", "external_id"),
    )  # fmt: skip
    sa.Table(
        "synced_values", old,
        sa.Column("account_id", ID, primary_key=True), sa.Column("field", sa.String(128), primary_key=True),
        sa.Column("company_id", ID, nullable=False), sa.Column("value", sa.Text),
        sa.Column("synced_at", sa.DateTime, nullable=False),
    )  # fmt: skip
    sa.Table(
        "ledger", old,
        sa.Column("entry_id", sa.String(40), primary_key=True), sa.Column("run_id", ID, nullable=False),
        sa.Column("dag_id", ID), sa.Column("system", sa.String(16), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False), sa.Column("record_id", ID),
        sa.Column("source_id", ID), sa.Column("field", sa.String(128)), sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text), sa.Column("result", sa.String(16), nullable=False),
        sa.Column("error_category", sa.String(64)), sa.Column("error_code", sa.String(128)),
        sa.Column("message", sa.Text), sa.Column("at", sa.DateTime, nullable=False),
        sa.Index("ix_ledger_run", "run_id", "system", "operation", "result"),
    )  # fmt: skip
    sa.Table(
        "runs", old,
        sa.Column("dag_id", ID, primary_key=True), sa.Column("run_id", ID, primary_key=True),
        sa.Column("logical_date", sa.DateTime), sa.Column("run_type", sa.String(32)),
        sa.Column("window_start", sa.DateTime), sa.Column("window_end", sa.DateTime),
        sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
        sa.Column("started_at", sa.DateTime, nullable=False), sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False), sa.Column("counts", sa.Text),
        sa.Column("report_path", sa.Text), sa.Index("ix_runs_dag_status", "dag_id", "status", "window_end"),
    )  # fmt: skip
    sa.Table("settings_state", old, sa.Column("key", sa.String(128), primary_key=True), sa.Column("value", sa.Text))
    return old


def schema_diff(conn) -> list:
    """What Alembic's autogenerate finds between the database and `state_schema.metadata` ([]: the same)."""
    return compare_metadata(MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}), metadata)


def old_store(url: str) -> None:
    """A store as main's code left it: its tables, one row in each, no version table."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    at = pd.Timestamp("2026-01-01 02:00").to_pydatetime()
    old = pre_migration_metadata()
    with engine.begin() as conn:
        old.create_all(conn)
        t = old.tables
        conn.execute(t["links"].insert(), [{"account_id": "001A", "company_id": "9", "linked_at": at, "run_id": "r0"}])
        conn.execute(
            t["key_mirror"].insert(), [{"system": "hubspot", "record_id": "9", "domain": "a.com", "deleted": False}]
        )
        run = {"dag_id": "company_sync", "run_id": "r0", "window_end": at, "dry_run": False, "started_at": at}
        conn.execute(t["runs"].insert(), [{**run, "status": "success"}])
        conn.execute(
            t["settings_state"].insert(), [{"key": "company_sync_enabled_at", "value": "2026-01-01T00:00:00+00:00"}]
        )
    engine.dispose()


def test_a_store_created_before_migrations_upgrades_in_place_and_keeps_its_data(state_url):
    old_store(state_url)
    store = StateStore(state_url)
    with store.engine.connect() as conn:
        assert state_migrations.current(conn) == state_migrations.head()
    assert store.links()["company_id"].tolist() == ["9"]
    assert store.mirror("hubspot")["domain"].tolist() == ["a.com"]
    assert store.last_successful_window_end("company_sync") == T("2026-01-01 02:00")
    assert store.company_sync_enabled_at() == T("2026-01-01")
    runs = store.recent_runs("company_sync")
    assert runs["status"].tolist() == ["success"] and runs["waited_for"].isna().all()
    # What failed on PostgreSQL before: a 300-character website host (and ids of any length) in every table.
    host = "h" * 292 + ".example"
    store.upsert_mirror("hubspot", pd.DataFrame({"record_id": ["9" * 300], "domain": [host]}))
    store.upsert_links(pd.DataFrame({"account_id": ["0" * 300], "company_id": ["8" * 300]}), run_id="r" * 300)
    assert store.mirror("hubspot", domains=[host])["record_id"].tolist() == ["9" * 300]
    assert schema_diff(store.engine.connect()) == []
    store.dispose()


def test_a_new_store_is_created_at_head_equal_to_the_declared_schema(state_url):
    store = StateStore(state_url)
    with store.engine.connect() as conn:
        assert state_migrations.current(conn) == state_migrations.head() == "0003"
        assert schema_diff(conn) == []
        assert conn.execute(sa.text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar() == 1
    assert state_migrations.upgrade(store.engine) is None  # at head: nothing to do, no lock taken
    store.dispose()


def test_stores_opened_at_the_same_moment_migrate_once(state_url):
    if state_url.startswith("sqlite"):
        StateStore(state_url).dispose()  # SQLite: the file and WAL mode first (the migration is what races)
        with sa.create_engine(state_url).begin() as conn:
            for table in [*metadata.tables, VERSION_TABLE]:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    errors, barrier = [], threading.Barrier(4)

    def open_store():
        try:
            barrier.wait(10)
            StateStore(state_url).dispose()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    store = StateStore(state_url)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == ["0003"]
    store.dispose()


@pytest.mark.parametrize("revision", ["0001", "0002"])
def test_an_upgrade_from_each_revision_reaches_head(state_url, revision):
    from alembic import command

    if state_url.startswith("sqlite:///"):
        Path(state_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(state_url)
    with engine.begin() as conn:
        command.upgrade(state_migrations._config(conn), revision)
    engine.dispose()
    store = StateStore(state_url)
    with store.engine.connect() as conn:
        assert state_migrations.current(conn) == "0003"
    store.dispose()
