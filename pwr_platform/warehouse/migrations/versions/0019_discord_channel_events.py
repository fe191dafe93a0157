"""``pwr_raw.discord_channel_events``: voice channel names as the collector sees them change.

Revision ID: 0019_discord_channel_events
Revises: 0018_weekly_member_index
Create Date: 2026-12-07

A voice channel's name reached the warehouse only inside voice payloads (migration 0015), so a
channel renamed in Discord kept its old name on the dashboards until someone next joined, left or
moved through it — for a quiet channel, days. The collector now also records every voice and stage
channel's name at each ``on_ready`` (``snapshot``), and when one is created (``create``) or renamed
(``update``); ``sql/voice_channels.sql`` takes the newest name from both sources. One row per
observation; raw rows are never updated or deleted.
"""

from alembic import op

from pwr_platform.warehouse.column_docs import apply_column_docs

revision = "0019_discord_channel_events"
down_revision = "0018_weekly_member_index"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE pwr_raw.discord_channel_events (
    id                 BIGSERIAL PRIMARY KEY,
    discord_guild_id   BIGINT      NOT NULL,
    discord_channel_id BIGINT      NOT NULL,
    event_type         TEXT        NOT NULL CHECK (event_type IN ('snapshot', 'create', 'update')),
    event_ts           TIMESTAMPTZ NOT NULL,
    channel_name       TEXT        NOT NULL,
    raw_payload        JSONB       NOT NULL DEFAULT '{}'::jsonb,
    ingested_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    ingest_xid         xid8        NOT NULL DEFAULT pg_current_xact_id()
);
-- the natural key: a spool replayed after an outage writes each observation once
CREATE UNIQUE INDEX discord_channel_events_natural_key
    ON pwr_raw.discord_channel_events (discord_guild_id, discord_channel_id, event_ts, event_type);
CREATE INDEX discord_channel_events_ingest_xid ON pwr_raw.discord_channel_events (ingest_xid);

-- the rows committed since a transform's snapshot, as for every raw table (0003, bounded by 0008)
CREATE FUNCTION pwr_raw.discord_channel_events_since(seen pg_snapshot)
RETURNS SETOF pwr_raw.discord_channel_events
LANGUAGE sql STABLE AS $$
    SELECT * FROM pwr_raw.discord_channel_events
    WHERE ingest_xid >= pg_snapshot_xmax(seen) AND ingest_xid < pg_snapshot_xmax(pg_current_snapshot())
    UNION ALL
    SELECT * FROM pwr_raw.discord_channel_events WHERE ingest_xid = ANY (ARRAY(SELECT pg_snapshot_xip(seen)))
$$;
"""

# The bot role's default privileges (0011) cover new pwr_raw tables made by the migrating role; the
# grants below make the table writable by the collector where 0011 ran as another role too.
GRANTS = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pwr_bot') THEN
        GRANT SELECT, INSERT ON pwr_raw.discord_channel_events TO pwr_bot;
        GRANT USAGE ON SEQUENCE pwr_raw.discord_channel_events_id_seq TO pwr_bot;
    END IF;
END
$$;
"""

DOWNGRADE = """
DROP FUNCTION IF EXISTS pwr_raw.discord_channel_events_since(pg_snapshot);
DROP TABLE IF EXISTS pwr_raw.discord_channel_events;
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    op.execute(GRANTS)
    apply_column_docs(op.get_bind())


def downgrade() -> None:
    op.execute(DOWNGRADE)
