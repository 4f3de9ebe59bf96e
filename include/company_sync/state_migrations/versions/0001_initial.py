"""The state store as the code before migrations created it (`metadata.create_all`): six tables, ids in
VARCHAR(255). A store created then, with the tables but no version table, is stamped at this revision.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(255)


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("account_id", ID, primary_key=True),
        sa.Column("company_id", ID, nullable=False, unique=True),
        sa.Column("linked_at", sa.DateTime, nullable=False),
        sa.Column("run_id", ID),
    )
    op.create_table(
        "key_mirror",
        sa.Column("system", sa.String(16), primary_key=True),
        sa.Column("record_id", ID, primary_key=True),
        sa.Column("domain", ID),
        sa.Column("external_id", ID),
        sa.Column("created_at", sa.DateTime),
        sa.Column("modified_at", sa.DateTime),
        sa.Column("deleted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_key_mirror_domain", "key_mirror", ["system", "domain"])
    op.create_index("ix_key_mirror_external_id", "key_mirror", ["system", "external_id"])
    op.create_table(
        "synced_values",
        sa.Column("account_id", ID, primary_key=True),
        sa.Column("field", sa.String(128), primary_key=True),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("synced_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "ledger",
        sa.Column("entry_id", sa.String(40), primary_key=True),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("dag_id", ID),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("record_id", ID),
        sa.Column("source_id", ID),
        sa.Column("field", sa.String(128)),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("error_category", sa.String(64)),
        sa.Column("error_code", sa.String(128)),
        sa.Column("message", sa.Text),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_ledger_run", "ledger", ["run_id", "system", "operation", "result"])
    op.create_table(
        "runs",
        sa.Column("dag_id", ID, primary_key=True),
        sa.Column("run_id", ID, primary_key=True),
        sa.Column("logical_date", sa.DateTime),
        sa.Column("run_type", sa.String(32)),
        sa.Column("window_start", sa.DateTime),
        sa.Column("window_end", sa.DateTime),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.Text),
        sa.Column("report_path", sa.Text),
    )
    op.create_index("ix_runs_dag_status", "runs", ["dag_id", "status", "window_end"])
    op.create_table(
        "settings_state",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text),
    )
