"""Warehouse schema: pwr_raw, pwr_core, pwr_agg with the seed design's tables and the + additions.

Revision ID: 0001_warehouse_schema
Revises:
Create Date: 2026-11-25

Column names, types, keys and foreign keys are the seed design's (see ARCHITECTURE.md,
"Table semantics"); the additions marked + there are here too, with the indexes the transforms
use. DDL is plain SQL so that it reads like the tables it makes.
"""

from alembic import op

revision = "0001_warehouse_schema"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE SCHEMA IF NOT EXISTS pwr_raw;
CREATE SCHEMA IF NOT EXISTS pwr_core;
CREATE SCHEMA IF NOT EXISTS pwr_agg;

-- ---------------------------------------------------------------- pwr_raw
CREATE TABLE pwr_raw.discord_voice_events (
    id                 BIGSERIAL PRIMARY KEY,
    discord_user_id    BIGINT      NOT NULL,
    discord_guild_id   BIGINT      NOT NULL,
    discord_channel_id BIGINT      NOT NULL,
    event_type         TEXT        NOT NULL CHECK (event_type IN ('join', 'leave', 'move')),
    event_ts           TIMESTAMPTZ NOT NULL,
    raw_payload        JSONB       NOT NULL,
    -- + when the writer stored the row, and the inserting transaction: ids and ingested_at are
    -- handed out before commit, so only the transaction id lets a reader know exactly which rows
    -- a snapshot could not yet see (the sessionizer's "what is new" test).
    ingested_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    ingest_xid         xid8        NOT NULL DEFAULT pg_current_xact_id()
);
COMMENT ON TABLE pwr_raw.discord_voice_events IS
    'One row per Discord voice join, leave or move, as recorded by the collector or backfilled from logs.';
-- + natural key: (guild, user, instant, type, channel) makes every ingestion path idempotent.
CREATE UNIQUE INDEX discord_voice_events_natural_key
    ON pwr_raw.discord_voice_events (discord_guild_id, discord_user_id, event_ts, event_type, discord_channel_id);
-- the guild's newest event (the data's own clock) and per-guild scans
CREATE INDEX discord_voice_events_guild_ts ON pwr_raw.discord_voice_events (discord_guild_id, event_ts);
CREATE INDEX discord_voice_events_ingest_xid ON pwr_raw.discord_voice_events (ingest_xid);

CREATE TABLE pwr_raw.rejected_voice_events (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT        NOT NULL,          -- 'bot', 'loki', 'jsonl', 'simulator', ...
    source_ref  TEXT,                          -- e.g. file path and line number
    raw_text    TEXT        NOT NULL,
    reason      TEXT        NOT NULL,
    rejected_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE pwr_raw.rejected_voice_events IS
    'Quarantine: input lines that failed validation, kept verbatim with the reason.';
CREATE UNIQUE INDEX rejected_voice_events_once
    ON pwr_raw.rejected_voice_events (source, coalesce(source_ref, ''), md5(raw_text));

CREATE TABLE pwr_raw.collector_heartbeats (
    discord_guild_id BIGINT      NOT NULL,
    collector_run_id TEXT        NOT NULL,
    heartbeat_ts     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (discord_guild_id, collector_run_id, heartbeat_ts)
);
COMMENT ON TABLE pwr_raw.collector_heartbeats IS
    'Written every minute while the collector is connected; a gap shows where it was down.';
CREATE INDEX collector_heartbeats_guild_ts ON pwr_raw.collector_heartbeats (discord_guild_id, heartbeat_ts);

-- ---------------------------------------------------------------- pwr_core
CREATE TABLE pwr_core.members (
    member_id       BIGSERIAL PRIMARY KEY,
    discord_user_id BIGINT      UNIQUE NOT NULL,
    first_seen_ts   TIMESTAMPTZ NOT NULL,
    last_seen_ts    TIMESTAMPTZ,
    is_active       BOOLEAN     NOT NULL DEFAULT TRUE,
    display_name    TEXT,
    username        TEXT,
    join_date       TIMESTAMPTZ,
    leave_date      TIMESTAMPTZ
);
COMMENT ON TABLE pwr_core.members IS 'One row per Discord user seen in voice, member sync or as an event host.';

CREATE TABLE pwr_core.voice_sessions (
    session_id         BIGSERIAL PRIMARY KEY,
    member_id          BIGINT      NOT NULL REFERENCES pwr_core.members (member_id),
    discord_guild_id   BIGINT      NOT NULL,
    discord_channel_id BIGINT      NOT NULL,
    session_start_ts   TIMESTAMPTZ NOT NULL,
    session_end_ts     TIMESTAMPTZ,
    duration_seconds   INTEGER,
    is_completed       BOOLEAN     NOT NULL DEFAULT FALSE,
    -- + why the session ended (NULL while open)
    close_reason       TEXT CHECK (close_reason IN ('leave', 'move', 'rejoin', 'collector_gap', 'timeout')),
    CHECK (session_end_ts IS NULL OR session_end_ts >= session_start_ts),
    CHECK (is_completed = (session_end_ts IS NOT NULL))
);
COMMENT ON TABLE pwr_core.voice_sessions IS 'Continuous stays of one member in one voice channel.';
CREATE INDEX voice_sessions_member_start ON pwr_core.voice_sessions (member_id, discord_guild_id, session_start_ts);
-- sessions are capped, so the ones overlapping [a, b) start in [a - cap, b): a btree finds them
CREATE INDEX voice_sessions_start ON pwr_core.voice_sessions (session_start_ts);
CREATE INDEX voice_sessions_channel_start ON pwr_core.voice_sessions (discord_channel_id, session_start_ts);

CREATE TABLE pwr_core.events (
    event_id           BIGSERIAL PRIMARY KEY,
    external_event_id  TEXT UNIQUE,
    name               TEXT        NOT NULL,
    description        TEXT,
    event_type         TEXT,
    scheduled_start_ts TIMESTAMPTZ NOT NULL,
    scheduled_end_ts   TIMESTAMPTZ,
    actual_start_ts    TIMESTAMPTZ,
    actual_end_ts      TIMESTAMPTZ,
    host_member_id     BIGINT REFERENCES pwr_core.members (member_id),
    status             TEXT        NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'active', 'completed', 'cancelled')),
    discord_guild_id   BIGINT       -- + every fact keeps its guild
);
COMMENT ON TABLE pwr_core.events IS 'Community events (scrims, inhouses, meetings), keyed by external_event_id.';
CREATE INDEX events_scheduled_start ON pwr_core.events (scheduled_start_ts);

CREATE TABLE pwr_core.event_channels (
    event_id           BIGINT NOT NULL REFERENCES pwr_core.events (event_id) ON DELETE CASCADE,
    discord_channel_id BIGINT NOT NULL,
    PRIMARY KEY (event_id, discord_channel_id)
);
COMMENT ON TABLE pwr_core.event_channels IS 'The voice channels an event takes place in.';

CREATE TABLE pwr_core.event_attendance (
    event_id            BIGINT NOT NULL REFERENCES pwr_core.events (event_id),
    member_id           BIGINT NOT NULL REFERENCES pwr_core.members (member_id),
    first_join_ts       TIMESTAMPTZ,
    last_leave_ts       TIMESTAMPTZ,
    total_voice_seconds INTEGER,
    joined_on_time      BOOLEAN,
    PRIMARY KEY (event_id, member_id)
);
COMMENT ON TABLE pwr_core.event_attendance IS 'Who attended each completed event, when, and for how long.';
CREATE INDEX event_attendance_member ON pwr_core.event_attendance (member_id);

-- ---------------------------------------------------------------- pwr_agg
CREATE TABLE pwr_agg.member_voice_daily (
    activity_date       DATE    NOT NULL,
    member_id           BIGINT  NOT NULL REFERENCES pwr_core.members (member_id),
    total_sessions      INTEGER NOT NULL DEFAULT 0,
    total_voice_seconds BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (activity_date, member_id)
);
COMMENT ON TABLE pwr_agg.member_voice_daily IS 'Voice sessions and seconds per member per day (PWR_TIMEZONE).';
CREATE INDEX member_voice_daily_member ON pwr_agg.member_voice_daily (member_id, activity_date);

CREATE TABLE pwr_agg.member_engagement_weekly (
    week_start_date      DATE    NOT NULL,
    member_id            BIGINT  NOT NULL REFERENCES pwr_core.members (member_id),
    total_voice_seconds  BIGINT  NOT NULL DEFAULT 0,
    events_attended      INTEGER NOT NULL DEFAULT 0,
    distinct_event_types INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (week_start_date, member_id)
);
COMMENT ON TABLE pwr_agg.member_engagement_weekly IS 'Voice seconds and events attended per member per ISO week.';
CREATE INDEX member_engagement_weekly_member ON pwr_agg.member_engagement_weekly (member_id, week_start_date);

CREATE TABLE pwr_agg.member_monthly_status (
    month_start_date DATE    NOT NULL,
    member_id        BIGINT  NOT NULL REFERENCES pwr_core.members (member_id),
    was_active       BOOLEAN NOT NULL,
    PRIMARY KEY (month_start_date, member_id)
);
COMMENT ON TABLE pwr_agg.member_monthly_status IS 'Active or not, per eligible member per month: what retention is made of.';
CREATE INDEX member_monthly_status_member ON pwr_agg.member_monthly_status (member_id, month_start_date);
"""

DOWNGRADE = """
DROP SCHEMA IF EXISTS pwr_agg CASCADE;
DROP SCHEMA IF EXISTS pwr_core CASCADE;
DROP SCHEMA IF EXISTS pwr_raw CASCADE;
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
