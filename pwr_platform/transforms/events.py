"""``pwr_core.events`` / ``event_channels`` from Discord scheduled-event records and imported events.

Small tables: every run recomputes all events from raw (``sql/events.sql``) and writes only what
changed. The ``pwr events`` commands call :func:`refresh_events` in the same transaction as their
write, so an import or a hand-stamped end shows up at once, or not at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg

from pwr_platform.transforms.members import ensure_members
from pwr_platform.warehouse.sql_runner import sql_statements

TEMP_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS _event_sources (
    external_event_id TEXT PRIMARY KEY, name TEXT, description TEXT, event_type TEXT,
    scheduled_start_ts TIMESTAMPTZ, scheduled_end_ts TIMESTAMPTZ, actual_start_ts TIMESTAMPTZ,
    actual_end_ts TIMESTAMPTZ, host_discord_user_id BIGINT, channel_ids BIGINT[], status TEXT,
    discord_guild_id BIGINT
) ON COMMIT DROP
"""


@dataclass
class EventsResult:
    events_total: int
    events_written: int
    channel_changes: int
    hosts_added_to_members: int
    completed_events: int

    def as_metadata(self) -> dict:
        return asdict(self)


def refresh_events(conn: psycopg.Connection) -> EventsResult:
    """Recompute events and their channels from raw; one transaction (a savepoint if the caller
    already opened one)."""
    stmts = sql_statements("events")
    with conn.transaction():
        conn.execute("LOCK TABLE pwr_core.events IN SHARE ROW EXCLUSIVE MODE")
        conn.execute(TEMP_TABLE)
        conn.execute("TRUNCATE _event_sources")
        conn.execute(stmts["event_sources"])
        hosts = [r[0] for r in conn.execute(stmts["hosts_without_member"]).fetchall()]
        added = ensure_members(conn, hosts)
        written = conn.execute(stmts["upsert_events"]).rowcount
        channel_changes = conn.execute(stmts["sync_channels"]).rowcount
        total, completed = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'completed') FROM pwr_core.events"
        ).fetchone()
    return EventsResult(total, written, channel_changes, added, completed)
