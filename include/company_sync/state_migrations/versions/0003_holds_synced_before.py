"""Issue #16 (undo a run): the `holds` table (records a rollback put on hold, skipped by company_sync until
released) and `synced_before` (what `synced_values` held before a run replaced it, so a rollback restores it).
The ledger's `old_value` column exists since 0001; from this release the loads fill it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("system", sa.String(16), primary_key=True),
        sa.Column("record_id", sa.Text, primary_key=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("rolled_back_run_id", sa.Text),
        sa.Column("held_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_holds_run", "holds", ["run_id"])
    op.create_table(
        "synced_before",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("field", sa.Text, primary_key=True),
        sa.Column("existed", sa.Boolean, nullable=False),
        sa.Column("company_id", sa.Text),
        sa.Column("value", sa.Text),
        sa.Column("synced_at", sa.DateTime),
    )


def downgrade() -> None:
    op.drop_table("synced_before")
    op.drop_index("ix_holds_run", table_name="holds")
    op.drop_table("holds")
