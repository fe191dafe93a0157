"""Sessionizer benchmark: full rebuild vs the bare LEAD() baseline; incremental run vs history size.

Sizes (env): PWR_BENCH_EVENTS (default 10,000,000 raw events), PWR_BENCH_SMALL_EVENTS (1,000,000),
PWR_BENCH_MEMBERS (5,000), PWR_BENCH_DAYS (730), PWR_BENCH_NEW_EVENTS (1,000). Runs on
PWR_BENCH_DATABASE_URL (a server; the benchmark creates and drops its own database there) or the
embedded server. Raw events are generated inside PostgreSQL with generate_series.

Prints, for the big history: the baseline (one CREATE TABLE AS with LEAD over all events per
user), the full rebuild (in PWR_REBUILD_CONNECTIONS connections, default 2), each twice and
alternated, and the ratio of the best of each (target <= 1.5); for both histories: the incremental run
of PWR_BENCH_NEW_EVENTS new events (target < 1 s, independent of history size); rows/s and the
Python process's peak memory.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
import uuid

import psycopg
from psycopg import sql

from pwr_platform.settings import get_settings
from pwr_platform.transforms.members import refresh_members
from pwr_platform.transforms.sessionizer import refresh_voice_sessions
from pwr_platform.warehouse import migrate
from pwr_platform.warehouse.connection import warehouse_url, with_database

CAP_HOURS, GAP_MINUTES = 12, 3
GUILD = 811111111111111111
WORK_MEM = "256MB"  # both the baseline and the rebuild run with it

# One session per row of generate_series: member m's k-th session starts at k * spacing (+ jitter),
# lasts up to a third of the spacing, in one of 20 channels; 20 % contain a move, 3 % lack a leave
# (so caps and rejoins happen). Roughly 2.2 events per session.
GENERATE = """
INSERT INTO pwr_raw.discord_voice_events
    (discord_user_id, discord_guild_id, discord_channel_id, event_type, event_ts, raw_payload)
SELECT 900000000000000000 + s.member, %(guild)s, 700000000000000000 + ev.channel, ev.event_type, ev.ts,
       jsonb_build_object('source', 'bench', 'username', 'member' || s.member)
FROM (
    SELECT n %% %(members)s AS member, n / %(members)s AS k, random() AS r1, random() AS r2, random() AS r3
    FROM generate_series(0, %(sessions)s - 1) n
) s
CROSS JOIN LATERAL (
    SELECT timestamptz '2024-11-01 00:00+00' + (s.k + s.r1 * 0.5) * %(spacing)s::interval AS start_ts,
           (s.r2 * %(spacing_seconds)s / 3 + 60) * interval '1 second' AS dur
) t
CROSS JOIN LATERAL (
    VALUES ('join', t.start_ts, (s.r3 * 20)::int),
           (CASE WHEN s.r1 < 0.2 THEN 'move' END, t.start_ts + t.dur / 2, ((s.r3 * 20)::int + 1) %% 20),
           (CASE WHEN s.r2 > 0.03 THEN 'leave' END, t.start_ts + t.dur, ((s.r3 * 20)::int + 1) %% 20)
) ev(event_type, ts, channel)
WHERE ev.event_type IS NOT NULL
ON CONFLICT DO NOTHING
"""

# New events for the incremental run: live join/leave pairs after the newest event, and 10 % late
# ones inside the last week of history.
NEW_EVENTS = """
INSERT INTO pwr_raw.discord_voice_events
    (discord_user_id, discord_guild_id, discord_channel_id, event_type, event_ts, raw_payload)
SELECT 900000000000000000 + (random() * (%(members)s - 1))::int, %(guild)s, 700000000000000000 + (random() * 19)::int,
       CASE WHEN n %% 2 = 0 THEN 'join' ELSE 'leave' END,
       CASE WHEN n %% 10 = 0 THEN newest - random() * interval '7 days'
            ELSE newest + (n * 7 + %(round)s * 100000) * interval '1 second' END,
       '{"source": "bench"}'::jsonb
FROM generate_series(1, %(count)s) n,
     (SELECT max(event_ts) AS newest FROM pwr_raw.discord_voice_events WHERE discord_guild_id = %(guild)s) m
ON CONFLICT DO NOTHING
"""

BASELINE = """
CREATE TABLE bench_baseline_sessions AS
SELECT discord_guild_id, discord_user_id, discord_channel_id, event_type, event_ts AS session_start_ts,
       lead(event_ts) OVER (PARTITION BY discord_guild_id, discord_user_id ORDER BY event_ts) AS session_end_ts
FROM pwr_raw.discord_voice_events
"""


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(url: str, events: int, members: int, days: int) -> float:
    sessions = int(events / 2.17)
    per_member = max(1, sessions // members)
    spacing_seconds = days * 86400 / per_member
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE pwr_raw.discord_voice_events, pwr_core.voice_sessions, pwr_core.members CASCADE;"
            "TRUNCATE pwr_core.transform_watermarks, pwr_core.collector_gaps"
        )
        conn.execute("SELECT setseed(0.42)")
        conn.execute(
            GENERATE,
            {
                "guild": GUILD,
                "members": members,
                "sessions": sessions,
                "spacing": f"{spacing_seconds} seconds",
                "spacing_seconds": spacing_seconds,
            },
        )
        conn.execute("VACUUM ANALYZE pwr_raw.discord_voice_events")
        n = conn.execute("SELECT count(*) FROM pwr_raw.discord_voice_events").fetchone()[0]
    seconds = time.perf_counter() - started
    print(
        f"  generated {n:,} raw events for {members:,} members over {days} days in {seconds:.1f}s", flush=True
    )
    return n


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def baseline(url: str) -> float:
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_baseline_sessions")
        conn.execute(f"SET work_mem = '{WORK_MEM}'")
        conn.execute("SET jit = off")
        _, seconds = timed(lambda: conn.execute(BASELINE))
        conn.execute("DROP TABLE bench_baseline_sessions")
    return seconds


def full_rebuild(url: str, connections: int) -> tuple[float, float, int]:
    with psycopg.connect(url) as conn:
        conn.execute(f"SET work_mem = '{WORK_MEM}'")
        conn.commit()
        _, members_s = timed(lambda: refresh_members(conn, full=True))
        result, sessions_s = timed(
            lambda: refresh_voice_sessions(
                conn,
                max_session_hours=CAP_HOURS,
                collector_gap_minutes=GAP_MINUTES,
                full=True,
                rebuild_connections=connections,
            )
        )
    return members_s, sessions_s, result.sessions_written


def incremental_runs(url: str, members: int, count: int, rounds: int = 3) -> list[tuple[float, float, int]]:
    runs = []
    for r in range(rounds):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(NEW_EVENTS, {"members": members, "guild": GUILD, "count": count, "round": r + 1})
        with psycopg.connect(url) as conn:
            _, members_s = timed(lambda: refresh_members(conn))
            result, sessions_s = timed(
                lambda: refresh_voice_sessions(
                    conn, max_session_hours=CAP_HOURS, collector_gap_minutes=GAP_MINUTES
                )
            )
        assert result.mode == "incremental"
        runs.append((members_s, sessions_s, result.users_recomputed))
    return runs


def report_incremental(label: str, runs) -> float:
    median = statistics.median(s for _, s, _ in runs)
    print(
        f"  incremental, {label}: sessions {', '.join(f'{s * 1000:.0f} ms' for _, s, _ in runs)} "
        f"(median {median * 1000:.0f} ms; {runs[0][2]} users recomputed); members "
        f"{', '.join(f'{m * 1000:.0f} ms' for m, _, _ in runs)}",
        flush=True,
    )
    return median


def main() -> None:
    big = _env_int("PWR_BENCH_EVENTS", 10_000_000)
    small = _env_int("PWR_BENCH_SMALL_EVENTS", 1_000_000)
    members = _env_int("PWR_BENCH_MEMBERS", 5_000)
    days = _env_int("PWR_BENCH_DAYS", 730)
    new = _env_int("PWR_BENCH_NEW_EVENTS", 1_000)
    connections = get_settings().rebuild_connections

    server = os.environ.get("PWR_BENCH_DATABASE_URL") or warehouse_url(start=True)
    name = f"pwr_bench_{uuid.uuid4().hex[:8]}"
    admin = with_database(server, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    try:
        migrate.upgrade(url)
        print(f"history {small:,} events:", flush=True)
        generate(url, small, members, days)
        members_s, sessions_s, written = full_rebuild(url, connections)
        print(f"  full rebuild: members {members_s:.2f}s, sessions {sessions_s:.2f}s ({written:,} sessions)")
        small_median = report_incremental(
            f"{new} new events on {small:,}", incremental_runs(url, members, new)
        )

        print(f"history {big:,} events:", flush=True)
        n = generate(url, big, members, days)
        # alternated, best of two each: this shared machine's speed drifts by ±20 % within minutes
        base1 = baseline(url)
        members_s, rebuild1, written = full_rebuild(url, connections)
        base2 = baseline(url)
        _, rebuild2, _ = full_rebuild(url, connections)
        base, sessions_s = min(base1, base2), min(rebuild1, rebuild2)
        print(
            f"  baseline (one LEAD() statement into a table): {base1:.2f}s / {base2:.2f}s (best {base:.2f}s)"
        )
        print(
            f"  full rebuild ({connections} connections): sessions {rebuild1:.2f}s / "
            f"{rebuild2:.2f}s (best {sessions_s:.2f}s = {n / sessions_s:,.0f} raw events/s), {written:,} "
            f"sessions; members {members_s:.2f}s"
        )
        print(
            f"  ratio full rebuild / baseline: {sessions_s / base:.2f} (target <= 1.5; run by run "
            f"{rebuild1 / base1:.2f}, {rebuild2 / base2:.2f})"
        )
        big_median = report_incremental(f"{new} new events on {big:,}", incremental_runs(url, members, new))
        print(
            f"  incremental median {small_median * 1000:.0f} ms at {small:,} vs {big_median * 1000:.0f} ms at "
            f"{big:,} (target < 1000 ms, flat)"
        )
        print(f"  peak memory of this Python process: {peak_mb():.0f} MB", flush=True)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
