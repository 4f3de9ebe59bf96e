"""Alembic's environment for the state store. Run only by `state.upgrade_schema`, which passes the open
connection (already inside the transaction that holds the migration lock) as `config.attributes["connection"]`:
there is no alembic.ini and no URL here. Revisions are written by hand (no autogenerate), portable across
SQLite and PostgreSQL; `tests/unit/test_state_migrations.py` checks that head equals `state_schema.metadata`."""

from alembic import context

from include.company_sync.state_schema import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
