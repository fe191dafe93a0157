"""``pwr_core.transform_read_snapshot(name)``: what an incremental transform's last run read.

Revision ID: 0017_transform_read_snapshot
Revises: 0016_event_command_channels
Create Date: 2026-12-07

Two blocking checks of the core layer (``sql/core_checks.sql``) compared the core tables with
*every* raw row, including rows committed after the run they check had read its input: a new
member's first voice event landing between the members step and its check failed the check, and
the live run with it (its two retries ran the check alone and failed the same way; ``bench live``
caught one such window). The checks now judge a table against the raw rows its transform read:
the snapshot stored in ``pwr_core.transform_watermarks``. This function says which snapshot that
is, falling back to the current one (every committed row) when the transform never ran, or when
the stored snapshot cannot be compared with this cluster's transaction ids (another cluster's
system identifier, or an xmax ahead of this server's: a restore; the transform rebuilds then).
"""

from alembic import op

revision = "0017_transform_read_snapshot"
down_revision = "0016_event_command_channels"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE FUNCTION pwr_core.transform_read_snapshot(transform TEXT) RETURNS pg_snapshot
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT w.read_snapshot FROM pwr_core.transform_watermarks AS w
         WHERE w.transform_name = transform
           AND (w.system_identifier IS NULL
                OR w.system_identifier = (SELECT system_identifier FROM pg_control_system()))
           AND pg_snapshot_xmax(w.read_snapshot) <= pg_snapshot_xmax(pg_current_snapshot())),
        pg_current_snapshot())
$$;
COMMENT ON FUNCTION pwr_core.transform_read_snapshot(TEXT) IS
    'The snapshot the transform''s last run read (its watermark), else the current one: checks judge a table against the raw rows its transform has read.';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS pwr_core.transform_read_snapshot(TEXT)")
