"""The bot's /stats and /leaderboard queries at scale (target: under 1 s; issue 14).

Sizes (environment): PWR_BENCH_MEMBERS (5000), PWR_BENCH_DAYS (730), PWR_BENCH_ACTIVE_SHARE (0.45:
the share of member-days with voice), PWR_BENCH_EVENTS_PER_DAY (2), PWR_BENCH_ATTENDEES (30). The
aggregate rows the commands read (pwr_agg.member_voice_daily, member_engagement_weekly,
member_trend; pwr_core.events and event_attendance) are generated directly with generate_series
into a scratch database ``pwr_bench_bot`` on PWR_BENCH_DATABASE_URL's server (or the embedded one),
dropped at the end (PWR_BENCH_KEEP=1 keeps it); the layers that build them are benchmarked in
bench_aggregates. Each query runs as the bot runs it (:class:`BotReader`: a fresh connection, a
read-only transaction), so the figures include connecting. Printed: p50 / p95 milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from datetime import date, timedelta

import psycopg
from psycopg import sql

from bench.bench_aggregates import _env_int, _server_url

GENERATE = [
    """
    INSERT INTO pwr_core.members (member_id, discord_user_id, first_seen_ts, display_name, username)
    SELECT g, 100000 + g, timestamptz '2024-01-01', 'Member ' || g, 'member' || g
    FROM generate_series(1, %(members)s) AS g
    """,
    "SELECT setval('pwr_core.members_member_id_seq', %(members)s)",
    """
    INSERT INTO pwr_agg.member_voice_daily (activity_date, member_id, total_sessions, total_voice_seconds)
    SELECT %(first)s::date + d, m, 1, (600 + random() * 10800)::bigint
    FROM generate_series(0, %(days)s - 1) AS d, generate_series(1, %(members)s) AS m
    WHERE random() < %(share)s
    """,
    """
    INSERT INTO pwr_core.events (event_id, external_event_id, name, scheduled_start_ts, scheduled_end_ts,
                                 actual_start_ts, actual_end_ts, status, discord_guild_id)
    SELECT g, 'bench-' || g, 'Event ' || g, t, t + interval '2 hours', t, t + interval '2 hours', 'completed', 1
    FROM (SELECT g, (%(first)s::date + g / %(per_day)s)::timestamptz + interval '19 hours' AS t
          FROM generate_series(0, %(days)s * %(per_day)s - 1) AS g) AS e
    """,
    """
    INSERT INTO pwr_core.event_attendance (event_id, member_id, first_join_ts, last_leave_ts,
                                           total_voice_seconds, joined_on_time)
    SELECT DISTINCT ON (e.event_id, m) e.event_id, m, e.actual_start_ts, e.actual_end_ts, 3600, random() < 0.7
    FROM pwr_core.events e, LATERAL (SELECT 1 + (random() * (%(members)s - 1))::int + e.event_id * 0 AS m
                                     FROM generate_series(1, %(attendees)s)) AS a
    """,
    """
    INSERT INTO pwr_agg.member_engagement_weekly (week_start_date, member_id, total_voice_seconds,
                                                  events_attended, distinct_event_types)
    SELECT week, member_id, sum(seconds), sum(events), 0
    FROM (SELECT date_trunc('week', activity_date)::date AS week, member_id, total_voice_seconds AS seconds,
                 0 AS events
          FROM pwr_agg.member_voice_daily
          UNION ALL
          SELECT date_trunc('week', e.actual_start_ts AT TIME ZONE 'UTC')::date, a.member_id, 0, 1
          FROM pwr_core.event_attendance a JOIN pwr_core.events e USING (event_id)) AS x
    GROUP BY week, member_id
    """,
    """
    INSERT INTO pwr_agg.member_trend
    SELECT member_id, display_name, 1, 1, 0, 0, 0,
           (ARRAY['rising', 'steady', 'falling'])[1 + member_id %% 3], %(last)s, %(last)s
    FROM pwr_core.members
    """,
    "ANALYZE",
]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000


def main() -> None:
    from pwr_platform.ingest.bot.reader import BotReader
    from pwr_platform.warehouse import migrate
    from pwr_platform.warehouse.connection import with_database

    members = _env_int("PWR_BENCH_MEMBERS", 5000)
    days = _env_int("PWR_BENCH_DAYS", 730)
    share = float(os.environ.get("PWR_BENCH_ACTIVE_SHARE", "0.45"))
    per_day = _env_int("PWR_BENCH_EVENTS_PER_DAY", 2)
    attendees = _env_int("PWR_BENCH_ATTENDEES", 30)
    first = date(2024, 1, 1)
    last = first + timedelta(days=days - 1)

    server = _server_url()
    name = "pwr_bench_bot"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = admin.execute("SHOW server_version").fetchone()[0]
    url = with_database(server, name)
    try:
        migrate.upgrade(url)
        params = {
            "members": members,
            "days": days,
            "share": share,
            "per_day": per_day,
            "attendees": attendees,
            "first": first,
            "last": last,
        }
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT setseed(0.14)")
            for statement in GENERATE:
                conn.execute(statement, params)
            counts = {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in (
                    "pwr_agg.member_voice_daily",
                    "pwr_agg.member_engagement_weekly",
                    "pwr_core.event_attendance",
                )
            }
        print(
            f"PostgreSQL {version}; {members} members × {days} days: "
            + ", ".join(f"{t} {n:,} rows" for t, n in counts.items())
            + f" (generated in {time.perf_counter() - started:.1f}s)",
            flush=True,
        )

        reader = BotReader(url)
        rng = random.Random(14)

        async def timed(calls: int, make) -> list[float]:
            samples = []
            for _ in range(calls):
                t0 = time.perf_counter()
                await make()
                samples.append(time.perf_counter() - t0)
            return samples

        async def measure() -> dict[str, list[float]]:
            await reader.member_stats(100001, last)  # warm the cache once, as a running server is
            return {
                "/stats (one member)": await timed(
                    40, lambda: reader.member_stats(100000 + rng.randint(1, members), last)
                ),
                **{
                    f"/leaderboard {p}": await timed(15, lambda p=p: reader.leaderboard(p, last))
                    for p in ("week", "month", "all")
                },
            }

        results = asyncio.run(measure())
        print("query (fresh read-only connection each)        p50 ms    p95 ms")
        for label, samples in results.items():
            p50, p95 = _percentiles(samples)
            flag = "ok" if p95 < 1000 else "OVER 1 s"
            print(f"  {label:<44} {p50:8.1f}  {p95:8.1f}  {flag}", flush=True)
    finally:
        if os.environ.get("PWR_BENCH_KEEP") != "1":
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
