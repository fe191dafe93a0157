"""Core layer bookkeeping: incremental watermarks, collector gaps, hand-made events, indexes.

Revision ID: 0003_core
Revises: 0002_raw_records
Create Date: 2026-11-25

What the core transforms (members, voice_sessions, events, event_attendance) need besides the seed
tables:

* ``pwr_core.transform_watermarks`` — per incremental transform, the PostgreSQL snapshot its last
  successful run read (``pg_current_snapshot()``). "New since the last run" is then exactly the rows
  whose inserting transaction that snapshot could not see. A watermark on ``id`` or ``ingested_at``
  could skip rows, because both are handed out before commit, not in commit order.
* ``ingest_xid`` on the other raw tables (member records, scheduled-event records, heartbeats), as
  ``discord_voice_events`` already has, so they can be read incrementally the same way.
* ``pwr_core.collector_gaps`` — the collector's outages derived from heartbeats (a session open
  across one ends at the last heartbeat before it, rule 4).
* ``pwr_raw.manual_events`` / ``pwr_raw.event_completions`` — events from ``pwr events import``
  and hand-stamped ends from ``pwr events complete``: raw inputs like the collector's records, so
  ``pwr_core.events`` stays derivable from raw.
* ``pwr_core.events.changed_xid`` (+) — the transaction that last changed what an event's
  attendance depends on (status, times, channels, sessions in its window); the attendance sensor
  compares it with the snapshot in its cursor, so no change is missed between ticks.
"""

from alembic import op

revision = "0003_core"
down_revision = "0002_raw_records"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE pwr_core.transform_watermarks (
    transform_name TEXT PRIMARY KEY,               -- 'voice_sessions', 'members'
    read_snapshot  pg_snapshot NOT NULL,           -- what the last successful run could see
    parameters     JSONB       NOT NULL DEFAULT '{}'::jsonb,  -- settings the stored result was built with
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE pwr_core.transform_watermarks IS
    'Incremental transforms: the snapshot each last read, so the next run takes exactly the rows committed since.';

ALTER TABLE pwr_raw.discord_member_events    ADD COLUMN ingest_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE pwr_raw.discord_scheduled_events ADD COLUMN ingest_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE pwr_raw.collector_heartbeats     ADD COLUMN ingest_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX discord_member_events_ingest_xid    ON pwr_raw.discord_member_events (ingest_xid);
CREATE INDEX discord_scheduled_events_ingest_xid ON pwr_raw.discord_scheduled_events (ingest_xid);
CREATE INDEX collector_heartbeats_ingest_xid     ON pwr_raw.collector_heartbeats (ingest_xid);
CREATE INDEX discord_scheduled_events_creator
    ON pwr_raw.discord_scheduled_events (creator_discord_user_id) WHERE creator_discord_user_id IS NOT NULL;
-- members: a user's first / last voice event and newest names across guilds
CREATE INDEX discord_voice_events_user_ts ON pwr_raw.discord_voice_events (discord_user_id, event_ts);
-- members: "the newest non-empty name" without walking a user's whole history when most payloads
-- (log lines) carry no name; the predicates are those of sql/members.sql
CREATE INDEX discord_voice_events_user_username ON pwr_raw.discord_voice_events (discord_user_id, event_ts)
    WHERE nullif(btrim(raw_payload ->> 'username'), '') IS NOT NULL;
CREATE INDEX discord_voice_events_user_display_name ON pwr_raw.discord_voice_events (discord_user_id, event_ts)
    WHERE nullif(btrim(raw_payload ->> 'display_name'), '') IS NOT NULL;

CREATE TABLE pwr_core.collector_gaps (
    discord_guild_id BIGINT      NOT NULL,
    gap_start_ts     TIMESTAMPTZ NOT NULL,   -- last heartbeat before the outage
    gap_end_ts       TIMESTAMPTZ NOT NULL,   -- first heartbeat after it
    PRIMARY KEY (discord_guild_id, gap_start_ts),
    CHECK (gap_end_ts > gap_start_ts)
);
COMMENT ON TABLE pwr_core.collector_gaps IS
    'Collector outages: consecutive heartbeats further apart than PWR_COLLECTOR_GAP_MINUTES.';

-- sessionizer: the open sessions (timeouts); gap lookups use voice_sessions_start from 0001
CREATE INDEX voice_sessions_open ON pwr_core.voice_sessions (discord_guild_id, session_start_ts)
    WHERE session_end_ts IS NULL;

CREATE TABLE pwr_raw.manual_events (
    external_event_id    TEXT PRIMARY KEY,
    name                 TEXT        NOT NULL,
    event_type           TEXT,
    description          TEXT,
    scheduled_start_ts   TIMESTAMPTZ NOT NULL,
    scheduled_end_ts     TIMESTAMPTZ,
    actual_start_ts      TIMESTAMPTZ,
    actual_end_ts        TIMESTAMPTZ,
    host_discord_user_id BIGINT,
    channel_ids          BIGINT[]    NOT NULL DEFAULT '{}',
    status               TEXT        NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'active', 'completed', 'cancelled')),
    discord_guild_id     BIGINT,
    source               TEXT        NOT NULL,       -- file path the row was imported from
    imported_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    ingest_xid           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CHECK (scheduled_end_ts IS NULL OR scheduled_end_ts >= scheduled_start_ts),
    CHECK (actual_end_ts IS NULL OR actual_start_ts IS NULL OR actual_end_ts >= actual_start_ts)
);
COMMENT ON TABLE pwr_raw.manual_events IS
    'Events run without Discord''s scheduled-event feature, as last imported by `pwr events import`.';
CREATE INDEX manual_events_host ON pwr_raw.manual_events (host_discord_user_id) WHERE host_discord_user_id IS NOT NULL;
CREATE INDEX manual_events_ingest_xid ON pwr_raw.manual_events (ingest_xid);

CREATE TABLE pwr_raw.event_completions (
    external_event_id TEXT PRIMARY KEY,
    actual_end_ts     TIMESTAMPTZ NOT NULL,
    recorded_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    ingest_xid        xid8        NOT NULL DEFAULT pg_current_xact_id()
);
COMMENT ON TABLE pwr_raw.event_completions IS
    'Actual ends stamped by hand (`pwr events complete`); they win over the source''s own end.';

ALTER TABLE pwr_core.events ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_status ON pwr_core.events (status);
CREATE INDEX event_channels_channel ON pwr_core.event_channels (discord_channel_id);

-- The attendance window of each event (ARCHITECTURE.md, event_attendance): [actual start, actual
-- end) when both are known, else the scheduled times. Where the scheduled end is unknown too, the
-- actual end (e.g. stamped by `pwr events complete`) closes the window; NULL end = no window.
CREATE VIEW pwr_core.event_windows AS
SELECT e.event_id,
       CASE WHEN e.actual_start_ts IS NOT NULL AND e.actual_end_ts IS NOT NULL
            THEN e.actual_start_ts ELSE e.scheduled_start_ts END AS window_start_ts,
       CASE WHEN e.actual_start_ts IS NOT NULL AND e.actual_end_ts IS NOT NULL
            THEN e.actual_end_ts ELSE coalesce(e.scheduled_end_ts, e.actual_end_ts) END AS window_end_ts
FROM pwr_core.events e;
COMMENT ON VIEW pwr_core.event_windows IS 'Attendance window of each event: actual times when both known, else scheduled.';
"""


# The rows of each raw table that a snapshot could not see (committed since, or not yet): written
# by a transaction at or after its xmax, or by one still running then (its xip list). One
# function per raw table, all of the same form: two index lookups on ingest_xid, so the cost
# follows the new rows, not the history, however old the oldest open transaction on the server
# is (a range from xmin would not be).
SINCE_TABLES = (
    "discord_voice_events",
    "discord_member_events",
    "discord_scheduled_events",
    "collector_heartbeats",
    "manual_events",
)
UPGRADE += "".join(
    f"""
CREATE FUNCTION pwr_raw.{table}_since(seen pg_snapshot) RETURNS SETOF pwr_raw.{table}
LANGUAGE sql STABLE AS $$
    SELECT * FROM pwr_raw.{table} WHERE ingest_xid >= pg_snapshot_xmax(seen)
    UNION ALL
    SELECT * FROM pwr_raw.{table} WHERE ingest_xid = ANY (ARRAY(SELECT pg_snapshot_xip(seen)))
$$;
"""
    for table in SINCE_TABLES
)

DOWNGRADE = """
DROP VIEW IF EXISTS pwr_core.event_windows;
DROP INDEX IF EXISTS pwr_core.event_channels_channel;
DROP INDEX IF EXISTS pwr_core.events_status;
ALTER TABLE pwr_core.events DROP COLUMN IF EXISTS changed_xid;
DROP TABLE IF EXISTS pwr_raw.event_completions;
DROP TABLE IF EXISTS pwr_raw.manual_events;
DROP INDEX IF EXISTS pwr_core.voice_sessions_open;
DROP TABLE IF EXISTS pwr_core.collector_gaps;
DROP INDEX IF EXISTS pwr_raw.discord_voice_events_user_display_name;
DROP INDEX IF EXISTS pwr_raw.discord_voice_events_user_username;
DROP INDEX IF EXISTS pwr_raw.discord_voice_events_user_ts;
DROP INDEX IF EXISTS pwr_raw.discord_scheduled_events_creator;
ALTER TABLE pwr_raw.collector_heartbeats     DROP COLUMN IF EXISTS ingest_xid;
ALTER TABLE pwr_raw.discord_scheduled_events DROP COLUMN IF EXISTS ingest_xid;
ALTER TABLE pwr_raw.discord_member_events    DROP COLUMN IF EXISTS ingest_xid;
DROP TABLE IF EXISTS pwr_core.transform_watermarks;
"""
DOWNGRADE = (
    "".join(f"DROP FUNCTION IF EXISTS pwr_raw.{t}_since(pg_snapshot);\n" for t in SINCE_TABLES) + DOWNGRADE
)


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
