"""``/event start`` adds channels to an event: ``pwr_core.bot_event_state`` shows the union.

Revision ID: 0016_event_command_channels
Revises: 0015_voice_channels
Create Date: 2026-12-07

A scrim runs in two team channels, but Discord's scheduled event names one. ``/event start``
takes up to three voice channels, and ``sql/events.sql`` now folds the start command's channels
into the event's own (before, they were used only when the event had none). The view the bot
reads (``/event status``) said the same as the old rule until the core refresh had folded a
command; it now shows the event's channels and its start command's, as the refresh will.
``CREATE OR REPLACE VIEW`` keeps the view's grants and column comments.
"""

from alembic import op

revision = "0016_event_command_channels"
down_revision = "0015_voice_channels"
branch_labels = None
depends_on = None

VIEW = """
CREATE OR REPLACE VIEW pwr_core.bot_event_state AS
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
       {channels}                                                 AS channel_ids
FROM pwr_core.events e
FULL JOIN commands c ON c.external_event_id = e.external_event_id;
"""

UNION_OF_CHANNELS = """ARRAY(SELECT ec.discord_channel_id FROM pwr_core.event_channels ec WHERE ec.event_id = e.event_id
                   UNION
                   SELECT unnest(coalesce(c.channel_ids, '{}'))
                   ORDER BY 1)"""

# 0012's rule: the folded channels, else the command's.
FOLDED_ELSE_COMMAND = """CASE WHEN EXISTS (SELECT 1 FROM pwr_core.event_channels ec WHERE ec.event_id = e.event_id)
            THEN ARRAY(SELECT ec.discord_channel_id FROM pwr_core.event_channels ec
                       WHERE ec.event_id = e.event_id ORDER BY 1)
            ELSE coalesce(c.channel_ids, '{}') END"""


def upgrade() -> None:
    op.execute(VIEW.format(channels=UNION_OF_CHANNELS))


def downgrade() -> None:
    op.execute(VIEW.format(channels=FOLDED_ELSE_COMMAND))
