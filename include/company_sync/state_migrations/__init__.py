"""The state store's schema migrations (Alembic): `upgrade(engine)` brings a store to head, and is what
`state.StateStore` runs when it opens a store.

- A new, empty database gets every revision in order (`versions/`: 0001 is the schema as `create_all` made
  it before migrations existed; 0002 is issue #12's text columns, leases and run waits).
- A store created before migrations (the tables, no version table) is stamped at 0001 first, then upgraded:
  its data is kept.
- One migrator at a time: the upgrade runs in one transaction that first takes a lock (PostgreSQL: a
  transaction-level advisory lock; SQLite: `BEGIN IMMEDIATE`, the database's write lock), then reads the
  version again, so a second task opening the store at the same moment waits and finds nothing left to do.
  Both databases run DDL inside transactions: a failed migration leaves the store as it was.
- The common case costs one query: a store already at head is not locked.

The version lives in the table `state_schema.VERSION_TABLE`, not Alembic's default `alembic_version`, so the
store can share a database with another Alembic user (Airflow's metadata DB).
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from include.company_sync.state_schema import VERSION_TABLE

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
INITIAL = "0001"
# Any number: the PostgreSQL advisory lock the migrators of one database share ("cs-state" in ASCII).
ADVISORY_LOCK_KEY = 0x63732D7374617465
# A table of revision 0001: its presence without a version table means "created before migrations".
PRE_MIGRATION_TABLE = "links"


def _config(conn: Connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = conn
    return config


@cache
def head() -> str:
    from alembic.script import ScriptDirectory

    config = _config(None)
    return ScriptDirectory.from_config(config).get_current_head()


def current(conn: Connection) -> str | None:
    """The store's revision (None: no version table, or an empty one)."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(engine: Engine) -> str | None:
    """Bring the store to head; returns the revision it was at when this call migrated it (None: nothing to do,
    or an empty store that this call created)."""
    with engine.connect() as conn:
        if current(conn) == head():
            return None
    # SQLite: `company_sync_write` makes the transaction BEGIN IMMEDIATE (state_schema._make_engine).
    with engine.connect().execution_options(company_sync_write=True) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        was = current(conn)  # again, under the lock: another process may have just migrated
        if was == head():
            return None
        from alembic import command

        config = _config(conn)
        if was is None and sa.inspect(conn).has_table(PRE_MIGRATION_TABLE):
            command.stamp(config, INITIAL)
            was = INITIAL
        command.upgrade(config, "head")
        log.info("state store schema upgraded from %s to %s", was or "nothing", head())
        return was
