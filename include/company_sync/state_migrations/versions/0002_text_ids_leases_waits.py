"""Issue #12: unbounded text for every column holding CRM data (a 300-character website host failed every
later run on PostgreSQL), the `leases` table (one writer at a time), and `runs.waited_for` /
`runs.waited_seconds` (how long a run waited for the lease, and for which run).

PostgreSQL alters the column types in place; SQLite, which ignores declared lengths anyway, rebuilds the
tables (Alembic's batch mode: copy, drop, rename, inside the migration's transaction).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TO_TEXT = {
    "links": ["account_id", "company_id", "run_id"],
    "key_mirror": ["record_id", "domain", "external_id"],
    "synced_values": ["account_id", "field", "company_id"],
    "ledger": ["run_id", "dag_id", "record_id", "source_id", "field", "error_code"],
    "runs": ["dag_id", "run_id"],
}
WAS = {"field": sa.String(128), "error_code": sa.String(128)}


def upgrade() -> None:
    for table, columns in TO_TEXT.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.Text, existing_type=WAS.get(column, sa.String(255)))
            if table == "runs":
                batch.add_column(sa.Column("waited_for", sa.Text))
                batch.add_column(sa.Column("waited_seconds", sa.Float))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("dag_id", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
        sa.Column("renewed_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
