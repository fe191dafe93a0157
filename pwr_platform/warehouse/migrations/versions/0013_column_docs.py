"""Column descriptions: COMMENT ON every table, view and column of pwr_raw, pwr_core, pwr_agg.

Revision ID: 0013_column_docs
Revises: 0011_bot_writer_role
Create Date: 2026-12-02

Why: the meaning of each column was restated by the DDL comments, the asset definitions and the
Superset datasets. The text now lives once, in ``pwr_platform/warehouse/column_docs.yaml``, and
this migration puts it into PostgreSQL's catalog, where Dagster's column schema and the Superset
datasets' agreement test read it. A later migration that changes or adds text calls
``apply_column_docs`` again.

Downgrade leaves the comments: they change no behaviour, and the tables' own comments were
already there before this revision.
"""

from alembic import op

from pwr_platform.warehouse.column_docs import apply_column_docs

revision = "0013_column_docs"
down_revision = "0012_discord_commands"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_column_docs(op.get_bind())


def downgrade() -> None:
    pass
