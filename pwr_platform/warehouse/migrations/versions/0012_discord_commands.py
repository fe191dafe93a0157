"""Discord commands: event commands as raw records, a read view for the bot, the digest's posts.

Revision ID: 0012_discord_commands
Revises: 0011_bot_writer_role
Create Date: 2026-12-02

* ``pwr_raw.discord_event_commands`` — one row per ``/event start`` or ``/event end`` an organizer
  ran in Discord. Append-only like every raw table (the bot's role may only INSERT: 0011), keyed
  by the interaction id so a replayed spool is a no-op. ``sql/events.sql`` folds them into
  ``pwr_core.events``: a start stamps the actual start (or creates an ad-hoc event
  ``bot:<interaction id>``), an end stamps the actual end and completes the event.
* ``pwr_core.bot_event_state`` — what the bot must know to answer ``/event`` at once, before the
  events asset has folded its newest commands in: each event's status as the commands already
  recorded make it. A view in pwr_core, so the read-only role reads it without any right on
  pwr_raw (a view runs with its owner's rights).
* ``pwr_raw.discord_member_events.event_type`` may be ``voice``: the member object a voice-state
  update carries (even without the privileged members intent) with Discord's ``joined_at``, so
  ``pwr_core.members.join_date`` is Discord's join date for everyone seen in voice. It is not a
  membership record: ``leave_date`` still comes from join / leave / snapshot records only.
* ``pwr_core.digest_messages`` — the Discord message each weekly digest was posted as, so a
  re-materialized week edits that message instead of posting a second one.
"""

from alembic import op

revision = "0012_discord_commands"
down_revision = "0011_bot_writer_role"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE pwr_raw.discord_member_events
    DROP CONSTRAINT discord_member_events_event_type_check,
    ADD CONSTRAINT discord_member_events_event_type_check
        CHECK (event_type IN ('join', 'leave', 'update', 'snapshot', 'voice'));

CREATE TABLE pwr_raw.discord_event_commands (
    id                        BIGSERIAL PRIMARY KEY,
    discord_guild_id          BIGINT      NOT NULL,
    interaction_id            BIGINT      NOT NULL UNIQUE,
    action                    TEXT        NOT NULL CHECK (action IN ('start', 'end')),
    external_event_id         TEXT        NOT NULL,
    recorded_ts               TIMESTAMPTZ NOT NULL,
    name                      TEXT,
    event_type                TEXT,
    channel_ids               BIGINT[]    NOT NULL DEFAULT '{}',
    organizer_discord_user_id BIGINT      NOT NULL,
    raw_payload               JSONB       NOT NULL,
    ingested_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    ingest_xid                xid8        NOT NULL DEFAULT pg_current_xact_id()
);
COMMENT ON TABLE pwr_raw.discord_event_commands IS
    '/event start and /event end as run by organizers in Discord (one row per interaction).';
CREATE INDEX discord_event_commands_event ON pwr_raw.discord_event_commands (external_event_id, action, recorded_ts);
CREATE INDEX discord_event_commands_ingest_xid ON pwr_raw.discord_event_commands (ingest_xid);

CREATE FUNCTION pwr_raw.discord_event_commands_since(seen pg_snapshot) RETURNS SETOF pwr_raw.discord_event_commands
LANGUAGE sql STABLE AS $$
    SELECT * FROM pwr_raw.discord_event_commands WHERE ingest_xid >= pg_snapshot_xmax(seen)
    UNION ALL
    SELECT * FROM pwr_raw.discord_event_commands WHERE ingest_xid = ANY (ARRAY(SELECT pg_snapshot_xip(seen)))
$$;

CREATE VIEW pwr_core.bot_event_state AS
WITH starts AS (
    SELECT DISTINCT ON (external_event_id) external_event_id, discord_guild_id, name, event_type, channel_ids,
           recorded_ts AS command_start_ts
    FROM pwr_raw.discord_event_commands
    WHERE action = 'start'
    ORDER BY external_event_id, recorded_ts, id
),
ends AS (
    SELECT external_event_id, min(discord_guild_id) AS discord_guild_id, min(recorded_ts) AS command_end_ts
    FROM pwr_raw.discord_event_commands
    WHERE action = 'end'
    GROUP BY external_event_id
),
commands AS (
    SELECT coalesce(s.external_event_id, n.external_event_id) AS external_event_id,
           coalesce(s.discord_guild_id, n.discord_guild_id) AS discord_guild_id,
           s.name, s.event_type, s.channel_ids, s.command_start_ts, n.command_end_ts
    FROM starts s FULL JOIN ends n USING (external_event_id)
)
SELECT coalesce(e.external_event_id, c.external_event_id)        AS external_event_id,
       e.event_id,
       coalesce(e.name, c.name)                                   AS name,
       coalesce(e.event_type, c.event_type)                       AS event_type,
       coalesce(e.discord_guild_id, c.discord_guild_id)           AS discord_guild_id,
       coalesce(e.scheduled_start_ts, c.command_start_ts)         AS scheduled_start_ts,
       coalesce(c.command_start_ts, e.actual_start_ts)            AS started_ts,
       coalesce(e.actual_end_ts, c.command_end_ts)                AS ended_ts,
       CASE WHEN e.status = 'cancelled' THEN 'cancelled'
            WHEN e.status = 'completed' OR c.command_end_ts IS NOT NULL THEN 'completed'
            WHEN e.status = 'active' OR c.command_start_ts IS NOT NULL THEN 'active'
            ELSE 'scheduled' END                                  AS status,
       CASE WHEN EXISTS (SELECT 1 FROM pwr_core.event_channels ec WHERE ec.event_id = e.event_id)
            THEN ARRAY(SELECT ec.discord_channel_id FROM pwr_core.event_channels ec
                       WHERE ec.event_id = e.event_id ORDER BY 1)
            ELSE coalesce(c.channel_ids, '{}') END                AS channel_ids
FROM pwr_core.events e
FULL JOIN commands c ON c.external_event_id = e.external_event_id;
COMMENT ON VIEW pwr_core.bot_event_state IS
    'Each event as pwr_core.events holds it with the /event commands not yet folded in: what /event reads.';

CREATE TABLE pwr_core.digest_messages (
    discord_guild_id BIGINT      NOT NULL,
    week_start_date  DATE        NOT NULL,
    webhook_id       TEXT        NOT NULL,
    message_id       TEXT        NOT NULL,
    content          TEXT        NOT NULL,
    posted_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    edited_at        TIMESTAMPTZ,
    PRIMARY KEY (discord_guild_id, week_start_date, webhook_id)
);
COMMENT ON TABLE pwr_core.digest_messages IS
    'The Discord message each weekly digest was posted as (edited, never posted again, on a re-run).';
"""

# The reader role's default privileges (0005) cover new pwr_core tables and views made by the
# migrating role; the grant below makes the view readable where 0005 ran as another role too.
GRANTS = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pwr_reader') THEN
        GRANT SELECT ON pwr_core.bot_event_state TO pwr_reader;
    END IF;
END
$$;
"""

DOWNGRADE = """
DROP TABLE IF EXISTS pwr_core.digest_messages;
DROP VIEW IF EXISTS pwr_core.bot_event_state;
DROP FUNCTION IF EXISTS pwr_raw.discord_event_commands_since(pg_snapshot);
DROP TABLE IF EXISTS pwr_raw.discord_event_commands;
-- rows of type 'voice' stay (raw data is never deleted); the old rule holds for new rows
ALTER TABLE pwr_raw.discord_member_events
    DROP CONSTRAINT discord_member_events_event_type_check,
    ADD CONSTRAINT discord_member_events_event_type_check
        CHECK (event_type IN ('join', 'leave', 'update', 'snapshot')) NOT VALID;
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE + GRANTS)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
