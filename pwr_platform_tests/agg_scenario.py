"""Hand-computed scenario shared by the aggregate tests, inserted straight into pwr_core.

All times UTC (the tests run with PWR_TIMEZONE=UTC). Expected figures are written out next to
each fact, so a reader can check every asserted number by hand.

Members (join = join_date, or first_seen when join_date is NULL):
  1 Ada  joined 2025-01-15        3 Cat joined 2025-03-05 11:00 (mid-month)   5 Eve joined 2024-12-01, left 2025-02-15
  2 Bob  first seen 2025-03-09    4 Dan joined 2025-01-10, never in voice     6 Fay joined 2025-04-02
Sessions:
  Ada 2025-03-03 22:00 → 03-04 01:30      across midnight: 7200 s on Mon 3rd, 5400 s on Tue 4th
  Ada 2025-03-04 10:00:00.4 → 10:00:10.9  10.5 s, rounds to 11
  Ada 2025-03-10 12:00 → (open)           not completed: no daily seconds
  Bob 2025-03-09 23:00 → 03-10 00:45      across midnight AND the ISO week boundary: 3600 s / 2700 s
  Cat 2025-03-05 12:00 → 12:00            zero length: a session started, 0 s, no positive overlap
Events (completed unless said):
  E1 scrim   scheduled 03-11 20:00–21:00, actual 20:05–21:10; Ada on time 3600 s, Bob LATE 1800 s
  E3 scrim   scheduled Sun 03-09 23:30–Mon 00:30, actual Mon 03-10 00:30–01:30 → window starts in
             the week of 03-10 (actual times rule); Bob on time 2400 s
  E5 (no type) scheduled 03-12 18:00–19:00, nobody came
  E6 meeting cancelled, with a stray attendance row that must be ignored
"""

from __future__ import annotations

from datetime import datetime

import psycopg

GUILD = 900
CHANNEL = 100

MEMBERS = [
    # member_id, discord_user_id, display_name, first_seen, join_date, leave_date
    (1, 1001, "Ada", "2025-01-15T00:00Z", "2025-01-15T00:00Z", None),
    (2, 1002, "Bob", "2025-03-09T23:00Z", None, None),
    (3, 1003, "Cat", "2025-03-05T11:00Z", "2025-03-05T11:00Z", None),
    (4, 1004, "Dan", "2025-01-10T00:00Z", "2025-01-10T00:00Z", None),
    (5, 1005, "Eve", "2024-12-01T00:00Z", "2024-12-01T00:00Z", "2025-02-15T00:00Z"),
    (6, 1006, "Fay", "2025-04-02T00:00Z", "2025-04-02T00:00Z", None),
]

SESSIONS = [
    (1, "2025-03-03T22:00:00Z", "2025-03-04T01:30:00Z"),
    (1, "2025-03-04T10:00:00.4Z", "2025-03-04T10:00:10.9Z"),
    (1, "2025-03-10T12:00:00Z", None),
    (2, "2025-03-09T23:00:00Z", "2025-03-10T00:45:00Z"),
    (3, "2025-03-05T12:00:00Z", "2025-03-05T12:00:00Z"),
]

EVENTS = [
    # event_id, name, type, sched start, sched end, actual start, actual end, status
    (
        1,
        "Friday scrim",
        "scrim",
        "2025-03-11T20:00Z",
        "2025-03-11T21:00Z",
        "2025-03-11T20:05Z",
        "2025-03-11T21:10Z",
        "completed",
    ),
    (
        3,
        "Late-night scrim",
        "scrim",
        "2025-03-09T23:30Z",
        "2025-03-10T00:30Z",
        "2025-03-10T00:30Z",
        "2025-03-10T01:30Z",
        "completed",
    ),
    (5, "Empty meetup", None, "2025-03-12T18:00Z", "2025-03-12T19:00Z", None, None, "completed"),
    (6, "Cancelled meeting", "meeting", "2025-03-13T18:00Z", "2025-03-13T19:00Z", None, None, "cancelled"),
]

ATTENDANCE = [
    # event_id, member_id, first_join, last_leave, seconds, on_time
    (1, 1, "2025-03-11T19:55Z", "2025-03-11T21:10Z", 3600, True),
    (1, 2, "2025-03-11T20:40Z", "2025-03-11T21:10Z", 1800, False),
    (3, 2, "2025-03-09T23:00Z", "2025-03-10T00:45Z", 2400, True),
    (6, 4, "2025-03-13T18:00Z", "2025-03-13T19:00Z", 3600, True),
]


def insert_member(
    conn: psycopg.Connection, member_id, user_id, name, first_seen, join_date=None, leave_date=None
):
    conn.execute(
        "INSERT INTO pwr_core.members (member_id, discord_user_id, display_name, username, first_seen_ts,"
        " last_seen_ts, join_date, leave_date, is_active) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            member_id,
            user_id,
            name,
            name.lower(),
            first_seen,
            first_seen,
            join_date,
            leave_date,
            leave_date is None,
        ),
    )


def insert_session(conn: psycopg.Connection, member_id: int, start, end, channel: int = CHANNEL) -> None:
    conn.execute(
        "INSERT INTO pwr_core.voice_sessions (member_id, discord_guild_id, discord_channel_id,"
        " session_start_ts, session_end_ts, duration_seconds, is_completed, close_reason)"
        " VALUES (%s, %s, %s, %s::timestamptz, %s::timestamptz,"
        "  round(extract(epoch FROM %s::timestamptz - %s::timestamptz))::int, %s, %s)",
        (member_id, GUILD, channel, start, end, end, start, end is not None, "leave" if end else None),
    )


def insert_scenario(conn: psycopg.Connection) -> None:
    for member in MEMBERS:
        insert_member(conn, *member)
    for member_id, start, end in SESSIONS:
        insert_session(conn, member_id, start, end)
    for event_id, name, type_, s_start, s_end, a_start, a_end, status in EVENTS:
        conn.execute(
            "INSERT INTO pwr_core.events (event_id, external_event_id, name, event_type, scheduled_start_ts,"
            " scheduled_end_ts, actual_start_ts, actual_end_ts, status, discord_guild_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (event_id, f"ext-{event_id}", name, type_, s_start, s_end, a_start, a_end, status, GUILD),
        )
        conn.execute("INSERT INTO pwr_core.event_channels VALUES (%s, %s)", (event_id, CHANNEL))
    for row in ATTENDANCE:
        conn.execute(
            "INSERT INTO pwr_core.event_attendance (event_id, member_id, first_join_ts, last_leave_ts,"
            " total_voice_seconds, joined_on_time) VALUES (%s, %s, %s, %s, %s, %s)",
            row,
        )


def rows(conn: psycopg.Connection, query: str, params=None) -> list[tuple]:
    return [tuple(r) for r in conn.execute(query, params).fetchall()]


def d(text: str):
    return datetime.fromisoformat(text).date()


def insert_random_sessions(
    conn, *, members: int, sessions: int, days: int, max_duration: str, seed: float
) -> None:
    """``members`` members and ``sessions`` completed sessions at random from 2025-05-01 on, over
    ``days`` days and up to ``max_duration`` long (a PostgreSQL interval), repeatable by ``seed``."""
    conn.execute(
        f"""
        INSERT INTO pwr_core.members (member_id, discord_user_id, first_seen_ts, display_name)
        SELECT g, 5000 + g, '2025-01-01', 'm' || g FROM generate_series(1, {int(members)}) AS g;
        SELECT setseed({float(seed)});
        INSERT INTO pwr_core.voice_sessions (member_id, discord_guild_id, discord_channel_id,
            session_start_ts, session_end_ts, duration_seconds, is_completed, close_reason)
        SELECT m, 1, 7, s, s + dur, extract(epoch FROM dur)::int, true, 'leave'
        FROM (
            SELECT 1 + floor(random() * {int(members)})::int AS m,
                   timestamptz '2025-05-01' + random() * interval '{int(days)} days' AS s,
                   random() * interval '{max_duration}' AS dur
            FROM generate_series(1, {int(sessions)})
        ) AS x;
        """
    )
