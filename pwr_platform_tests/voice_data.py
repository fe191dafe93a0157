"""Test helpers: write raw rows straight into the warehouse, run the core transforms, and an
independent pure-Python model of ARCHITECTURE.md's session rules to compare the SQL against."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import psycopg

from pwr_platform.transforms.members import refresh_members
from pwr_platform.transforms.sessionizer import refresh_voice_sessions

GUILD = 811111111111111111
T0 = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
RANK = {"leave": 0, "move": 1, "join": 2}


@dataclass(frozen=True)
class Voice:
    """One raw voice event as a test writes it."""

    user: int
    event_type: str
    ts: datetime
    channel: int
    guild: int = GUILD
    from_channel: int | None = None
    username: str | None = None
    channel_name: str | None = None
    from_channel_name: str | None = None


def at(minutes: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, hours=hours)


def insert_voice(conn: psycopg.Connection, events: list[Voice]) -> list[int]:
    """Insert like the writer does (ON CONFLICT DO NOTHING on the natural key); returns new ids."""
    ids = []
    for e in events:
        payload = {"event_type": e.event_type, "event_ts": e.ts.isoformat(), "source": "test"}
        if e.from_channel is not None:
            payload["from_channel_id"] = str(e.from_channel)
        if e.username:
            payload["username"] = e.username
        if e.channel_name is not None:
            payload["channel_name"] = e.channel_name
        if e.from_channel_name is not None:
            payload["from_channel_name"] = e.from_channel_name
        row = conn.execute(
            """
            INSERT INTO pwr_raw.discord_voice_events
                (discord_user_id, discord_guild_id, discord_channel_id, event_type, event_ts, raw_payload)
            VALUES (%s, %s, %s, %s, %s, %s::jsonb)
            ON CONFLICT DO NOTHING RETURNING id
            """,
            (e.user, e.guild, e.channel, e.event_type, e.ts, json.dumps(payload)),
        ).fetchone()
        if row:
            ids.append(row[0])
    return ids


def terminate_when_waiting_for_a_lock(
    conn: psycopg.Connection, statement_like: str, what: str, timeout_s: float = 10
) -> None:
    """The fault drills' kill: wait until a server process is blocked on a lock while running a
    statement ``LIKE statement_like`` (another connection holds that lock), then terminate it
    there — a run dying at a chosen point of its transaction, as a killed worker or a crashed
    connection would."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        waiting = conn.execute(
            # in this test's database only: a parallel test may wait on the same statement
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s"
            " AND datname = current_database()",
            (statement_like,),
        ).fetchall()
        if waiting:
            conn.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: no server process waited for a lock running {statement_like!r}")


def insert_heartbeats(
    conn: psycopg.Connection, times: list[datetime], guild: int = GUILD, run_id: str = "run-1"
):
    for ts in times:
        conn.execute(
            "INSERT INTO pwr_raw.collector_heartbeats (discord_guild_id, collector_run_id, heartbeat_ts) "
            "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (guild, run_id, ts),
        )


def refresh(url: str, *, full: bool = False, cap_hours: int = 12, gap_minutes: int = 3, connections: int = 1):
    """members then voice_sessions, each in its own transaction, as the every-minute job does."""
    with psycopg.connect(url) as conn:
        refresh_members(conn, full=full)
        return refresh_voice_sessions(
            conn,
            max_session_hours=cap_hours,
            collector_gap_minutes=gap_minutes,
            full=full,
            rebuild_connections=connections,
        )


def stored_sessions(conn: psycopg.Connection) -> list[tuple]:
    """Sessions as comparable tuples (user, guild, channel, start, end, duration, completed, reason)."""
    return conn.execute(
        """
        SELECT m.discord_user_id, s.discord_guild_id, s.discord_channel_id, s.session_start_ts,
               s.session_end_ts, s.duration_seconds, s.is_completed, s.close_reason
        FROM pwr_core.voice_sessions s JOIN pwr_core.members m USING (member_id)
        ORDER BY 1, 2, 4, 3, 5 NULLS LAST, 8
        """
    ).fetchall()


def whole_seconds(delta: timedelta) -> int:
    return int(Decimal(str(delta.total_seconds())).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def model_sessions(
    events: list[Voice],
    heartbeats: dict[int, list[datetime]] | None = None,
    cap_hours: int = 12,
    gap_minutes: int = 3,
) -> tuple[list[tuple], int]:
    """The rules of ARCHITECTURE.md applied event by event (a state machine, unlike the SQL's
    window functions): returns (sessions as stored_sessions() tuples, ignored leaves).

    ``events`` must already be deduplicated on the natural key (first stored copy wins) and
    carry their storage order as list order (the id tiebreak).
    """
    cap = timedelta(hours=cap_hours)
    gap_starts: dict[int, list[datetime]] = {}
    for guild, beats in (heartbeats or {}).items():
        distinct = sorted(set(beats))
        gap_starts[guild] = [
            a for a, b in zip(distinct, distinct[1:], strict=False) if b - a > timedelta(minutes=gap_minutes)
        ]
    newest: dict[int, datetime] = {}
    per_user: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    for idx, e in enumerate(events):
        newest[e.guild] = max(newest.get(e.guild, e.ts), e.ts)
        per_user[(e.guild, e.user)].append((e.ts, RANK[e.event_type], e.channel, idx, e))

    def auto_end(guild: int, start: datetime) -> tuple[datetime, str]:
        gaps = [g for g in gap_starts.get(guild, []) if start <= g < start + cap]
        return (min(gaps), "collector_gap") if gaps else (start + cap, "timeout")

    sessions, ignored = [], 0
    for (guild, user), items in per_user.items():
        items.sort(key=lambda t: t[:4])
        open_ = None  # (channel, start)

        def close(end: datetime, reason: str, opened=None, user=user, guild=guild) -> None:
            channel, start = opened
            sessions.append((user, guild, channel, start, end, whole_seconds(end - start), True, reason))

        for ts, _rank, channel, _idx, e in items:
            if open_ is not None:
                auto_ts, auto_reason = auto_end(guild, open_[1])
                if ts > auto_ts:
                    close(auto_ts, auto_reason, open_)
                    open_ = None
            if e.event_type == "leave":
                if open_ is None:
                    ignored += 1
                else:
                    close(ts, "leave", open_)
                    open_ = None
                continue
            if open_ is not None:
                close(ts, "move" if e.event_type == "move" else "rejoin", open_)
            open_ = (channel, ts)
        if open_ is not None:
            auto_ts, auto_reason = auto_end(guild, open_[1])
            if auto_reason == "collector_gap" or newest[guild] > auto_ts:
                close(auto_ts, auto_reason, open_)
            else:
                sessions.append((user, guild, open_[0], open_[1], None, None, False, None))
    sessions.sort(key=lambda s: (s[0], s[1], s[3], s[2], s[4] is None, s[4] or s[3], s[7] or ""))
    return sessions, ignored
