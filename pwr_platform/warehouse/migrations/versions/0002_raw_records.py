"""Raw member and scheduled-event records written by the collector (and the simulator).

Revision ID: 0002_raw_records
Revises: 0001_warehouse_schema
Create Date: 2026-11-25

These are the raw inputs, besides voice events, from which ``pwr_core.members`` (join / leave
dates, names) and ``pwr_core.events`` (Discord scheduled events and their status transitions)
are derived. Like voice events they are append-only observations with a natural key, so every
writer is idempotent and the core tables can always be rebuilt from raw.
"""

from alembic import op

revision = "0002_raw_records"
down_revision = "0001_warehouse_schema"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- One row per observation of a guild member: 'join' (member joined the guild), 'leave',
-- 'update' (name change) or 'snapshot' (member sync at collector start).
CREATE TABLE pwr_raw.discord_member_events (
    id               BIGSERIAL PRIMARY KEY,
    discord_guild_id BIGINT      NOT NULL,
    discord_user_id  BIGINT      NOT NULL,
    event_type       TEXT        NOT NULL CHECK (event_type IN ('join', 'leave', 'update', 'snapshot')),
    event_ts         TIMESTAMPTZ NOT NULL,
    username         TEXT,
    display_name     TEXT,
    joined_at        TIMESTAMPTZ,          -- Discord's member.joined_at when known
    is_bot           BOOLEAN     NOT NULL DEFAULT FALSE,
    raw_payload      JSONB       NOT NULL DEFAULT '{}'::jsonb,
    ingested_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE pwr_raw.discord_member_events IS
    'Guild member joins, leaves, name changes and sync snapshots, as the collector saw them.';
CREATE UNIQUE INDEX discord_member_events_natural_key
    ON pwr_raw.discord_member_events (discord_guild_id, discord_user_id, event_ts, event_type);
CREATE INDEX discord_member_events_user ON pwr_raw.discord_member_events (discord_user_id, event_ts);

-- One row per observed state of a Discord guild scheduled event (create, each update, delete).
-- The status history gives actual start (first 'active') and actual end (first 'completed').
CREATE TABLE pwr_raw.discord_scheduled_events (
    id                      BIGSERIAL PRIMARY KEY,
    discord_guild_id        BIGINT      NOT NULL,
    discord_event_id        BIGINT      NOT NULL,
    observed_ts             TIMESTAMPTZ NOT NULL,
    status                  TEXT        NOT NULL CHECK (status IN ('scheduled', 'active', 'completed', 'cancelled')),
    name                    TEXT        NOT NULL,
    description             TEXT,
    event_type              TEXT,          -- e.g. scrim / inhouse / meeting (from the name or a tag)
    scheduled_start_ts      TIMESTAMPTZ NOT NULL,
    scheduled_end_ts        TIMESTAMPTZ,
    discord_channel_id      BIGINT,        -- voice / stage channel the event is held in
    creator_discord_user_id BIGINT,
    raw_payload             JSONB       NOT NULL DEFAULT '{}'::jsonb,
    ingested_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE pwr_raw.discord_scheduled_events IS
    'Every observed state of a Discord scheduled event; pwr_core.events is derived from this history.';
CREATE UNIQUE INDEX discord_scheduled_events_natural_key
    ON pwr_raw.discord_scheduled_events (discord_guild_id, discord_event_id, observed_ts, status);
CREATE INDEX discord_scheduled_events_event ON pwr_raw.discord_scheduled_events (discord_event_id, observed_ts);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS pwr_raw.discord_scheduled_events;
DROP TABLE IF EXISTS pwr_raw.discord_member_events;
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
