"""What the pipeline needs to recover from a restore onto a new server and from late data.

Revision ID: 0008_pipeline_recovery
Revises: 0007_voice_sessions_partitioned
Create Date: 2026-12-02

* ``pwr_core.transform_watermarks.system_identifier`` (+): the PostgreSQL cluster
  (``pg_control_system()``) a watermark's snapshot was taken on. Transaction ids mean nothing on
  another cluster: after a restore into a fresh server (or a move to managed PostgreSQL) new raw
  rows would look "already processed". A watermark from another cluster, or whose xmax is ahead
  of the current snapshot's, is not used: the transform rebuilds in full and says why.
* ``pwr_raw.*_since`` (~): rows whose ``ingest_xid`` is at or past the CURRENT snapshot's xmax
  are not "new" — no transaction of this cluster can have written them, they were restored from
  a cluster whose counter was further on. Without the bound they would count as new on every run
  after a restore (the sessionizer recomputing them and the core sensor triggering every minute).
* ``pwr_core.stale_aggregate_days`` (+): the local days (PWR_TIMEZONE) whose sessions the
  sessionizer changed, one row per aggregate built from sessions, written in the sessionizer's
  transaction. The aggregates sensor requests exactly those partitions; each aggregate run
  deletes the rows it consumed in its own transaction. ``marked_xid`` tells a run whether a row
  was marked again while it ran (then it stays).
"""

from alembic import op

revision = "0008_pipeline_recovery"
down_revision = "0007_voice_sessions_partitioned"
branch_labels = None
depends_on = None

SINCE_TABLES = (
    "discord_voice_events",
    "discord_member_events",
    "discord_scheduled_events",
    "collector_heartbeats",
    "manual_events",
)


def _since(table: str, bounded: bool) -> str:
    bound = " AND ingest_xid < pg_snapshot_xmax(pg_current_snapshot())" if bounded else ""
    return f"""
CREATE OR REPLACE FUNCTION pwr_raw.{table}_since(seen pg_snapshot) RETURNS SETOF pwr_raw.{table}
LANGUAGE sql STABLE AS $$
    SELECT * FROM pwr_raw.{table} WHERE ingest_xid >= pg_snapshot_xmax(seen){bound}
    UNION ALL
    SELECT * FROM pwr_raw.{table} WHERE ingest_xid = ANY (ARRAY(SELECT pg_snapshot_xip(seen)))
$$;
"""


UPGRADE = """
ALTER TABLE pwr_core.transform_watermarks ADD COLUMN system_identifier BIGINT;
COMMENT ON COLUMN pwr_core.transform_watermarks.system_identifier IS
    'pg_control_system().system_identifier of the cluster read_snapshot was taken on.';

CREATE TABLE pwr_core.stale_aggregate_days (
    aggregate  TEXT        NOT NULL,   -- asset name: member_voice_daily, voice_heatmap, ...
    local_day  DATE        NOT NULL,   -- a day (PWR_TIMEZONE) whose sessions changed
    marked_xid xid8        NOT NULL DEFAULT pg_current_xact_id(),
    marked_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate, local_day)
);
COMMENT ON TABLE pwr_core.stale_aggregate_days IS
    'Days whose sessions changed since each aggregate last rebuilt them (sessionizer → aggregates sensor).';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS pwr_core.stale_aggregate_days;
ALTER TABLE pwr_core.transform_watermarks DROP COLUMN IF EXISTS system_identifier;
"""


def upgrade() -> None:
    op.execute(UPGRADE + "".join(_since(t, bounded=True) for t in SINCE_TABLES))


def downgrade() -> None:
    op.execute("".join(_since(t, bounded=False) for t in SINCE_TABLES) + DOWNGRADE)
