"""voice_sessions becomes a table partitioned by ranges of session_id.

Revision ID: 0007_voice_sessions_partitioned
Revises: 0006_sessions_start_channel
Create Date: 2026-11-26

Why: a full rebuild of the sessions (first start, a changed cap or gap setting) is one window
pass over every raw event, which PostgreSQL runs on one core, plus a sort per index. Building the
new sessions as several ordinary tables at once, one connection per slice of users, uses every
core; the rebuild then swaps them in as this table's partitions in one short transaction (detach
the old partitions, attach the new ones: no rows are copied, and the table itself, its grants,
comments, indexes and whatever depends on it stay as they are). Each partition holds one id range
(the rebuild hands each slice its own block of ids), so the primary key stays `session_id` alone.

Columns, keys, checks, indexes and names are those of 0001/0003/0006, now on the partitioned table.
The existing table becomes its only partition, covering every id; no row moves.
"""

from alembic import op

revision = "0007_voice_sessions_partitioned"
down_revision = "0006_sessions_start_channel"
branch_labels = None
depends_on = None

# The columns and rules of 0001, with the constraint names PostgreSQL gave them there: a table
# attached as a partition must carry the parent's CHECK constraints under the same names.
PARENT = """
CREATE TABLE pwr_core.voice_sessions (
    session_id         BIGINT      NOT NULL DEFAULT nextval('pwr_core.voice_sessions_session_id_seq'),
    member_id          BIGINT      NOT NULL,
    discord_guild_id   BIGINT      NOT NULL,
    discord_channel_id BIGINT      NOT NULL,
    session_start_ts   TIMESTAMPTZ NOT NULL,
    session_end_ts     TIMESTAMPTZ,
    duration_seconds   INTEGER,
    is_completed       BOOLEAN     NOT NULL DEFAULT FALSE,
    close_reason       TEXT,
    CONSTRAINT voice_sessions_pkey PRIMARY KEY (session_id),
    CONSTRAINT voice_sessions_member_id_fkey FOREIGN KEY (member_id) REFERENCES pwr_core.members (member_id),
    CONSTRAINT voice_sessions_close_reason_check
        CHECK (close_reason IN ('leave', 'move', 'rejoin', 'collector_gap', 'timeout')),
    CONSTRAINT voice_sessions_check CHECK (session_end_ts IS NULL OR session_end_ts >= session_start_ts),
    CONSTRAINT voice_sessions_check1 CHECK (is_completed = (session_end_ts IS NOT NULL))
) {partitioning};
ALTER SEQUENCE pwr_core.voice_sessions_session_id_seq OWNED BY pwr_core.voice_sessions.session_id;
COMMENT ON TABLE pwr_core.voice_sessions IS 'Continuous stays of one member in one voice channel.';
CREATE INDEX voice_sessions_member_start ON pwr_core.voice_sessions (member_id, discord_guild_id, session_start_ts);
CREATE INDEX voice_sessions_start_channel ON pwr_core.voice_sessions (session_start_ts, discord_channel_id);
CREATE INDEX voice_sessions_open ON pwr_core.voice_sessions (discord_guild_id, session_start_ts)
    WHERE session_end_ts IS NULL;
"""

INDEXES = ("pkey", "member_start", "start_channel", "open")


def _rename_indexes(old_table: str, new_table: str) -> str:
    return "\n".join(
        f"ALTER INDEX pwr_core.{old_table}_{suffix} RENAME TO {new_table}_{suffix};" for suffix in INDEXES
    )


UPGRADE = f"""
ALTER TABLE pwr_core.voice_sessions RENAME TO voice_sessions_from_min;
{_rename_indexes("voice_sessions", "voice_sessions_from_min")}
ALTER TABLE pwr_core.voice_sessions_from_min ALTER COLUMN session_id DROP DEFAULT;
{PARENT.format(partitioning="PARTITION BY RANGE (session_id)")}
ALTER TABLE pwr_core.voice_sessions
    ATTACH PARTITION pwr_core.voice_sessions_from_min FOR VALUES FROM (MINVALUE) TO (MAXVALUE);
"""

DOWNGRADE = f"""
ALTER TABLE pwr_core.voice_sessions RENAME TO voice_sessions_partitioned;
{_rename_indexes("voice_sessions", "voice_sessions_partitioned")}
{PARENT.format(partitioning="")}
INSERT INTO pwr_core.voice_sessions SELECT * FROM pwr_core.voice_sessions_partitioned;
DROP TABLE pwr_core.voice_sessions_partitioned;
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
