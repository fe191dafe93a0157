"""Voice channel names: ``pwr_core.voice_channels``, so dashboards name a channel, not its id.

Revision ID: 0015_voice_channels
Revises: 0014_dota
Create Date: 2026-12-07

The collector's voice payloads name the channel as Discord calls it at that moment
(``channel_name``, and ``from_channel_name`` on a move). This table keeps each channel's newest
name by event time, and a label that is unique in the warehouse: ``#name``, or ``#name (id)``
when two channels share a name (Discord allows that, as it allows two members called "Alex"), so
a chart grouped by the label never adds two channels together. Channels never seen with a name
have no row: readers fall back to ``#<id>``. Built incrementally by ``sql/voice_channels.sql``.
"""

from alembic import op

from pwr_platform.warehouse.column_docs import apply_column_docs

revision = "0015_voice_channels"
down_revision = "0014_dota"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE pwr_core.voice_channels (
    discord_channel_id BIGINT      PRIMARY KEY,
    discord_guild_id   BIGINT      NOT NULL,
    channel_name       TEXT        NOT NULL CHECK (channel_name <> ''),
    name_seen_ts       TIMESTAMPTZ NOT NULL,
    channel_label      TEXT        NOT NULL
);
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pwr_reader') THEN
        GRANT SELECT ON pwr_core.voice_channels TO pwr_reader;
    END IF;
END
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    apply_column_docs(op.get_bind())


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS pwr_core.voice_channels")
    op.execute("DELETE FROM pwr_core.transform_watermarks WHERE transform_name = 'voice_channels'")
