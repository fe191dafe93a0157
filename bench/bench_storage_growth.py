"""Storage growth: bytes per raw voice event and per voice session, indexes included.

Fills a scratch warehouse (a fresh, migrated database on the bench server) with
``PWR_BENCH_EVENTS`` raw events (default 1,000,000) whose ``raw_payload`` is the collector's voice
record (ARCHITECTURE.md, "Voice record"), and half as many sessions, all with SQL
``generate_series``; then measures ``pg_total_relation_size`` (heap + TOAST + indexes) per row.
The scale-out sizes in docs/deploy.md are computed from these figures. Baseline: the heap alone
(no indexes), measured in the same run.

    PWR_BENCH_EVENTS=100000 python -m bench storage_growth     # small run
"""

from __future__ import annotations

import os
import time
import uuid

import psycopg
from psycopg import sql

from pwr_platform.warehouse import migrate
from pwr_platform.warehouse.connection import warehouse_url, with_database

CHUNK = 100_000
MEMBERS = 2_000

RAW_EVENTS_SQL = """
INSERT INTO pwr_raw.discord_voice_events
    (discord_user_id, discord_guild_id, discord_channel_id, event_type, event_ts, raw_payload)
SELECT u, 811111111111111111, ch, kind, ts,
       jsonb_build_object(
           'event_type', kind,
           'event_ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'discord_guild_id', '811111111111111111',
           'discord_user_id', u::text,
           'discord_channel_id', ch::text,
           'username', 'player_' || (u %% 100000),
           'display_name', 'Player ' || (u %% 100000),
           'self_mute', g %% 7 = 0,
           'self_deaf', g %% 23 = 0,
           'source', 'bot')
       || CASE WHEN kind = 'move' THEN jsonb_build_object('from_channel_id', (ch + 1)::text) ELSE '{}' END
FROM (
    SELECT g,
           822222222222200000 + (g %% %(members)s::bigint) AS u,
           833333333333300000 + (g %% 12) AS ch,
           (ARRAY['join', 'leave', 'join', 'move', 'leave'])[1 + g %% 5] AS kind,
           timestamptz '2026-01-01Z' + g * interval '2.1 seconds' AS ts
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
) AS e
"""

SESSIONS_SQL = """
INSERT INTO pwr_core.voice_sessions
    (member_id, discord_guild_id, discord_channel_id, session_start_ts, session_end_ts,
     duration_seconds, is_completed, close_reason)
SELECT 1 + g %% %(members)s::bigint, 811111111111111111, 833333333333300000 + (g %% 12),
       timestamptz '2026-01-01Z' + g * interval '4.2 seconds',
       timestamptz '2026-01-01Z' + g * interval '4.2 seconds' + (600 + g %% 7200) * interval '1 second',
       600 + g %% 7200, TRUE, (ARRAY['leave', 'move', 'leave', 'timeout'])[1 + g %% 4]
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""


def _sizes(conn: psycopg.Connection, table: str) -> tuple[int, int, int]:
    total, heap, indexes = conn.execute(
        "SELECT pg_total_relation_size(%s::regclass), pg_relation_size(%s::regclass),"
        " pg_indexes_size(%s::regclass)",
        (table, table, table),
    ).fetchone()
    return total, heap, indexes


def _fill(conn: psycopg.Connection, statement: str, rows: int, label: str) -> float:
    started = time.perf_counter()
    for first in range(1, rows + 1, CHUNK):
        last = min(first + CHUNK - 1, rows)
        conn.execute(statement, {"first": first, "last": last, "members": MEMBERS})
        conn.commit()
        print(f"  {label}: {last:,}/{rows:,}", flush=True)
    return time.perf_counter() - started


def _report(conn: psycopg.Connection, table: str, rows: int, seconds: float, label: str) -> int:
    conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(*table.split("."))))
    total, heap, indexes = _sizes(conn, table)
    print(
        f"{label}: {rows:,} rows in {seconds:.1f}s ({rows / seconds:,.0f} rows/s); "
        f"total {total / 2**20:,.1f} MiB = {total / rows:,.0f} B/row "
        f"(heap+TOAST {(total - indexes) / rows:,.0f} B/row, indexes {indexes / rows:,.0f} B/row; "
        f"ratio to heap-only baseline {total / heap:.2f}x)"
    )
    return round(total / rows)


def main() -> None:
    events = int(os.environ.get("PWR_BENCH_EVENTS", "1000000"))
    server = os.environ.get("PWR_BENCH_DATABASE_URL") or warehouse_url(start=True)
    name = f"pwr_bench_storage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    try:
        migrate.upgrade(url)
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            print(f"PostgreSQL {version}, scratch database {name}, {events:,} raw events")
            conn.execute(
                "INSERT INTO pwr_core.members (discord_user_id, first_seen_ts, username, display_name)"
                " SELECT 822222222222200000 + g, '2026-01-01Z', 'player_' || g, 'Player ' || g"
                " FROM generate_series(0, %s - 1) g",
                (MEMBERS,),
            )
            conn.commit()
            seconds = _fill(conn, RAW_EVENTS_SQL, events, "raw events")
            conn.autocommit = True
            per_event = _report(conn, "pwr_raw.discord_voice_events", events, seconds, "raw event")
            conn.autocommit = False
            sessions = events // 2
            seconds = _fill(conn, SESSIONS_SQL, sessions, "sessions")
            conn.autocommit = True
            per_session = _report(conn, "pwr_core.voice_sessions", sessions, seconds, "voice session")
            payload = conn.execute(
                "SELECT avg(pg_column_size(raw_payload))::int FROM pwr_raw.discord_voice_events"
            ).fetchone()[0]
            print(f"raw_payload: {payload} B/row stored (jsonb)")
            print(f"RESULT bytes_per_raw_event={per_event} bytes_per_session={per_session}")
    finally:
        with psycopg.connect(with_database(server, "postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
