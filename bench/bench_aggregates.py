"""Aggregates at scale: rebuild every daily partition, one day, the other aggregates, and the
dashboard queries, on generated history (default 2 years × 5,000 members ≈ 5.4 M sessions).

Sizes (environment): PWR_BENCH_MEMBERS (5000), PWR_BENCH_DAYS (730), PWR_BENCH_SESSIONS_PER_MEMBER_DAY
(1.48), PWR_BENCH_EVENTS_PER_DAY (2). The data goes into a scratch database ``pwr_bench_agg`` on
PWR_BENCH_DATABASE_URL's server (or the embedded one), created fresh and dropped at the end
(PWR_BENCH_KEEP=1 keeps it). Sessions are generated directly in pwr_core with generate_series, as
the aggregates read them; the core layer is benchmarked elsewhere.

Baseline: the bare one-statement SQL (all days of all sessions split at midnight in one
INSERT … SELECT, no window, no delete) in the same run, before and after the asset's run (the
ratio is against their mean); the asset's figure is a real Dagster run (one run over the whole
range, BackfillPolicy.single_run()) on the Dagster instance the platform runs on: the generated
``dagster.yaml`` with its storage on a scratch database ``<name>_dagster`` of the same server. (Until
issue 16's fifth round the runs used an in-memory instance, which hid 16–26 s of storage writes
per 730 partitions.)
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from pwr_platform.cli.materialize import QUIET_CONSOLE

BASELINE_SQL = """
INSERT INTO bench_baseline_daily
SELECT day::date, member_id,
       count(*) FILTER (WHERE day::date = (session_start_ts AT TIME ZONE 'UTC')::date),
       sum(round(extract(epoch FROM least(session_end_ts, (day + interval '1 day') AT TIME ZONE 'UTC')
                                  - greatest(session_start_ts, day AT TIME ZONE 'UTC'))))::bigint
FROM pwr_core.voice_sessions
CROSS JOIN LATERAL generate_series(date_trunc('day', session_start_ts AT TIME ZONE 'UTC'),
                                   session_end_ts AT TIME ZONE 'UTC', interval '1 day') AS day
WHERE is_completed
GROUP BY 1, 2
"""

DASHBOARD_QUERIES = {
    "cohort_retention": "SELECT * FROM pwr_agg.cohort_retention ORDER BY cohort_month, months_since_join",
    "member_trend": "SELECT * FROM pwr_agg.member_trend ORDER BY voice_hours_change DESC",
    "member_trend (top 20 rising)": "SELECT * FROM pwr_agg.member_trend WHERE trend_label = 'rising'"
    " ORDER BY voice_hours_change DESC LIMIT 20",
    "event_success": "SELECT * FROM pwr_agg.event_success ORDER BY window_start_ts DESC",
    "event_type_success": "SELECT * FROM pwr_agg.event_type_success",
    "voice_heatmap": "SELECT * FROM pwr_agg.voice_heatmap ORDER BY weekday, hour_of_day",
}


def _insert_statement(sql_name: str) -> str:
    """The INSERT … SELECT of the asset's SQL file, without its RETURNING and summary."""
    from pwr_platform.warehouse.sql_runner import read_sql

    statement = next(st for st in read_sql(sql_name).split(";\n") if "INSERT INTO" in st)
    return statement[statement.index("INSERT INTO") :].split("\nRETURNING ")[0]


def bare_insert(conn: psycopg.Connection, sql_name: str, table: str, params: dict) -> None:
    """The asset's own INSERT … SELECT alone, into an unlogged copy of its table without indexes:
    no DELETE of the window, no RETURNING and summary of what it wrote, no Dagster — the bare SQL
    the asset's run is compared with (issue 16's baseline)."""
    target = f"pwr_agg.{sql_name}"
    bench_table = f"bench_baseline_{table}"
    conn.execute(f"DROP TABLE IF EXISTS {bench_table}")
    conn.execute(f"CREATE UNLOGGED TABLE {bench_table} (LIKE {target})")
    with psycopg.ClientCursor(conn) as cur:
        cur.execute(_insert_statement(sql_name).replace(target, bench_table, 1), params)


def bare_rebuild(conn: psycopg.Connection, sql_name: str, table: str, params: dict) -> None:
    """The same INSERT as a person rebuilding the table by hand runs it: in one transaction, into
    a logged copy with the table's keys and indexes (its primary key, foreign keys and other
    indexes from the catalog, built after the INSERT), committed. No DELETE, summary, ANALYZE or
    Dagster. Printed beside issue 16's baseline, not instead of it: it says how much of the run's
    cost is the table's own keys and indexes, which the bare INSERT into an index-less unlogged
    table does not pay."""
    from pwr_platform.warehouse.sql_runner import sql_statements

    target = f"pwr_agg.{sql_name}"
    bench_table = f"bench_rebuild_{table}"
    constraints, indexes, _ = conn.execute(
        sql_statements("bulk_load")["indexes"], {"table": target}
    ).fetchone()
    conn.execute(f"DROP TABLE IF EXISTS {bench_table}")
    with conn.transaction():
        conn.execute(f"CREATE TABLE {bench_table} (LIKE {target} INCLUDING DEFAULTS)")
        with psycopg.ClientCursor(conn) as cur:
            cur.execute(_insert_statement(sql_name).replace(target, bench_table, 1), params)
        for n, (_, definition) in enumerate(constraints):
            conn.execute(f"ALTER TABLE {bench_table} ADD CONSTRAINT {bench_table}_c{n} {definition}")
        for n, (_, definition) in enumerate(indexes):
            on = definition.index(f" ON {target} ")
            conn.execute(
                f"CREATE INDEX {bench_table}_i{n}"
                + definition[on:].replace(f" ON {target} ", f" ON {bench_table} ", 1)
            )
    conn.execute(f"DROP TABLE {bench_table}")


@contextmanager
def platform_instance(server: str, name: str) -> Iterator:
    """The Dagster instance of ``pwr up`` and the compose deployment (the platform's generated
    ``dagster.yaml``), its storage on a scratch database ``name`` of ``server``, dropped afterwards."""
    import yaml
    from dagster import DagsterInstance

    from pwr_platform.runtime.dagster_instance import STORAGE_URL_ENV, instance_config
    from pwr_platform.warehouse.connection import sqlalchemy_url, with_database

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with tempfile.TemporaryDirectory(prefix="pwr-bench-dagster-") as home:
            (Path(home) / "dagster.yaml").write_text(yaml.safe_dump(instance_config()))
            os.environ[STORAGE_URL_ENV] = sqlalchemy_url(with_database(server, name), "psycopg2")
            instance = DagsterInstance.from_config(home)
            try:
                yield instance
            finally:
                instance.dispose()
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def bare_and_run(
    conn: psycopg.Connection, sql_name: str, table: str, params: dict, what: str, run_asset, rounds: int = 1
) -> None:
    """The asset's bare INSERT, then its Dagster run, then the bare INSERT again: the run reads
    inputs the first bare INSERT has just read (warmer caches), the second bare INSERT reads them
    as warm as the run did, so the ratio is taken against the mean of both. A short statement
    (weekly: ~2 s) moves by tens of per cent from run to run, so it is measured ``rounds`` times
    (bare, run, bare, run, …, bare) and the median ratio is the figure. Beside it (not instead of
    it), the median run against :func:`bare_rebuild`, the same INSERT into a table with the keys."""
    bare_s = [_timed(f"baseline: {sql_name}'s INSERT alone", bare_insert, conn, sql_name, table, params)[0]]
    ratios, run_times = [], []
    for n in range(rounds):
        label = f"{sql_name}: {what}, one Dagster run" + (
            f" (round {n + 1} of {rounds})" if rounds > 1 else ""
        )
        run_s, _ = _timed(label, run_asset)
        run_times.append(run_s)
        bare_s.append(_timed("baseline again, after the run", bare_insert, conn, sql_name, table, params)[0])
        before_s, after_s = bare_s[-2:]
        ratios.append(run_s / ((before_s + after_s) / 2))
        print(
            f"  ratio asset / baseline: {ratios[-1]:.2f}"
            f"   (against the baseline before alone {run_s / before_s:.2f}, after alone {run_s / after_s:.2f})"
        )
    if rounds > 1:
        print(
            f"  ratio asset / baseline, median of {rounds}: {statistics.median(ratios):.2f}"
            f"   (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
        )
    rebuild_s = [
        _timed(
            "beside it: the INSERT into a copy with the table's keys",
            bare_rebuild,
            conn,
            sql_name,
            table,
            params,
        )[0]
        for _ in range(max(rounds, 2))
    ]
    print(
        f"  ratio asset / that rebuild: {statistics.median(run_times) / statistics.median(rebuild_s):.2f}"
        f"   (medians; the keys and indexes alone: {statistics.median(rebuild_s) - statistics.median(bare_s):.2f} s)"
    )


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _server_url() -> str:
    from pwr_platform.warehouse.connection import libpq_url, warehouse_url, with_database

    url = os.environ.get("PWR_BENCH_DATABASE_URL")
    return with_database(libpq_url(url) if url else warehouse_url(start=True), "postgres")


def _timed(label: str, fn, *args, **kwargs):
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:<58} {seconds:8.2f} s", flush=True)
    return seconds, value


def generate(conn: psycopg.Connection, members: int, days: int, rate: float, events_per_day: int) -> None:
    conn.execute("SELECT setseed(0.2024)")
    conn.execute(
        """
        INSERT INTO pwr_core.members (member_id, discord_user_id, first_seen_ts, last_seen_ts, display_name,
                                      username, join_date, leave_date, is_active)
        SELECT g, 100000 + g, j, j, 'Member ' || g, 'member' || g, j,
               CASE WHEN g %% 10 = 0 THEN j + interval '90 days' END, g %% 10 <> 0
        FROM (SELECT g, timestamptz '2024-01-01' + random() * (%s * interval '1 day') * 0.8 AS j
              FROM generate_series(1, %s) AS g) AS m
        """,
        (days, members),
    )
    total = int(members * days * rate)
    # capped sessions (<= 12 h): mostly short, a long tail; starts uniform over the history
    conn.execute(
        """
        INSERT INTO pwr_core.voice_sessions (member_id, discord_guild_id, discord_channel_id, session_start_ts,
                                             session_end_ts, duration_seconds, is_completed, close_reason)
        SELECT member_id, 1, 10 + (n %% 8), s, s + dur, extract(epoch FROM dur)::int, true, 'leave'
        FROM (SELECT n, 1 + (n::bigint * 7919) %% %s AS member_id,
                     timestamptz '2024-01-01' + random() * (%s * interval '1 day') AS s,
                     least(interval '12 hours', interval '2 minutes' + power(random(), 3) * interval '6 hours') AS dur
              FROM generate_series(1, %s) AS n) AS x
        """,
        (members, days, total),
    )
    conn.execute(
        """
        INSERT INTO pwr_core.events (event_id, external_event_id, name, event_type, scheduled_start_ts,
                                     scheduled_end_ts, actual_start_ts, actual_end_ts, status, discord_guild_id)
        SELECT e, 'bench-' || e, 'Event ' || e, (ARRAY['scrim', 'inhouse', 'meeting'])[1 + e %% 3], st,
               st + interval '2 hours', st + interval '3 minutes', st + interval '2 hours 5 minutes', 'completed', 1
        FROM (SELECT e, timestamptz '2024-01-01 19:00' + (e / %s) * interval '1 day' + (e %% %s) * interval '1 hour' AS st
              FROM generate_series(0, %s - 1) AS e) AS ev
        """,
        (events_per_day, events_per_day, days * events_per_day),
    )
    conn.execute(
        """
        INSERT INTO pwr_core.event_attendance (event_id, member_id, first_join_ts, last_leave_ts,
                                               total_voice_seconds, joined_on_time)
        SELECT DISTINCT ON (e.event_id, m) e.event_id, m, e.scheduled_start_ts + off, e.scheduled_end_ts,
               (7200 - extract(epoch FROM off))::int, off <= interval '10 minutes'
        FROM pwr_core.events AS e
        CROSS JOIN LATERAL (SELECT 1 + floor(random() * %s)::int AS m, random() * interval '40 minutes' AS off
                            FROM generate_series(1, 25 + e.event_id %% 10)) AS a
        """,
        (members,),
    )
    conn.execute("ANALYZE")


def main() -> None:
    from dagster import materialize

    from pwr_platform.defs.agg import dashboard_tables, member_engagement_weekly, member_monthly_status
    from pwr_platform.defs.agg import member_voice_daily as daily_module
    from pwr_platform.defs.agg import voice_heatmap as heatmap_module
    from pwr_platform.defs.resources import WarehouseResource
    from pwr_platform.warehouse import migrate
    from pwr_platform.warehouse.connection import with_database
    from pwr_platform.warehouse.sql_runner import run_script, sql_params

    members = _env_int("PWR_BENCH_MEMBERS", 5000)
    days = _env_int("PWR_BENCH_DAYS", 730)
    rate = float(os.environ.get("PWR_BENCH_SESSIONS_PER_MEMBER_DAY", "1.48"))
    events_per_day = _env_int("PWR_BENCH_EVENTS_PER_DAY", 2)
    first_day, last_day = date(2024, 1, 1), date(2024, 1, 1) + timedelta(days=days - 1)

    server = _server_url()
    name = os.environ.get("PWR_BENCH_AGG_DATABASE", "pwr_bench_agg")  # two checkouts at once: two names
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = admin.execute("SHOW server_version").fetchone()[0]
    url = with_database(server, name)
    migrate.upgrade(url)
    print(
        f"PostgreSQL {version}; {members} members × {days} days, ~{rate} sessions per member-day", flush=True
    )

    resources = {"warehouse": WarehouseResource(database_url=url)}
    cleanup = ExitStack()  # the instance and its scratch database, closed in the finally below
    instance = cleanup.enter_context(platform_instance(server, f"{name}_dagster"))
    range_tags = {
        "dagster/asset_partition_range_start": first_day.isoformat(),
        "dagster/asset_partition_range_end": last_day.isoformat(),
    }

    def run(asset_def, **kwargs) -> None:
        result = materialize(
            [asset_def], resources=resources, instance=instance, run_config=QUIET_CONSOLE, **kwargs
        )
        assert result.success

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            gen_s, _ = _timed(
                "generate members, sessions, events, attendance",
                generate,
                conn,
                members,
                days,
                rate,
                events_per_day,
            )
            sessions = conn.execute("SELECT count(*) FROM pwr_core.voice_sessions").fetchone()[0]
            print(f"  sessions: {sessions:,} ({sessions / gen_s:,.0f} rows/s generated)", flush=True)

            print("daily rebuild, all partitions:")
            conn.execute("CREATE UNLOGGED TABLE bench_baseline_daily (d date, m bigint, s int, v bigint)")
            before_s, _ = _timed("baseline: bare one-statement SQL", conn.execute, BASELINE_SQL)
            asset_s, _ = _timed(
                f"member_voice_daily: {days} partitions, one Dagster run",
                run,
                daily_module.member_voice_daily,
                tags=range_tags,
            )
            rows = conn.execute("SELECT count(*) FROM pwr_agg.member_voice_daily").fetchone()[0]
            same = conn.execute(
                "SELECT count(*) FROM (SELECT * FROM bench_baseline_daily WHERE d BETWEEN %s AND %s EXCEPT"
                " SELECT activity_date, member_id, total_sessions, total_voice_seconds FROM pwr_agg.member_voice_daily) x",
                (first_day, last_day),
            ).fetchone()[0]
            print(
                f"  rows: {rows:,}; baseline rows inside the partitions missing or different in the asset: {same}"
            )
            conn.execute("TRUNCATE bench_baseline_daily")
            after_s, _ = _timed("baseline again, after the run", conn.execute, BASELINE_SQL)
            base_s = (before_s + after_s) / 2
            print(
                f"  ratio asset / baseline: {asset_s / base_s:.2f}   ({sessions / asset_s:,.0f} sessions/s;"
                f" against the first baseline alone {asset_s / before_s:.2f}, the second alone {asset_s / after_s:.2f})"
            )

            again_s, _ = _timed(
                f"member_voice_daily: {days} partitions again, over the full table",
                run,
                daily_module.member_voice_daily,
                tags=range_tags,
            )
            print(f"  ratio to the baseline: {again_s / base_s:.2f}   (a backfill of a built warehouse)")

            print("one daily partition:")
            mid = first_day + timedelta(days=days // 2)
            sql_times = []
            for _ in range(5):
                started = time.perf_counter()
                with conn.transaction():
                    run_script(conn, "member_voice_daily", sql_params(mid, mid + timedelta(days=1)))
                sql_times.append(time.perf_counter() - started)
            print(
                f"  {'member_voice_daily SQL for ' + mid.isoformat() + ' (median of 5)':<58} {statistics.median(sql_times):8.3f} s"
            )
            _timed(
                f"member_voice_daily {mid}: whole Dagster run",
                run,
                daily_module.member_voice_daily,
                partition_key=mid.isoformat(),
            )

            print("other aggregates (one run each over the whole history):")
            _timed(f"voice_heatmap: {days} partitions", run, heatmap_module.voice_heatmap, tags=range_tags)
            weeks = {
                "dagster/asset_partition_range_start": (
                    first_day - timedelta(days=first_day.weekday())
                ).isoformat(),
                "dagster/asset_partition_range_end": (
                    last_day - timedelta(days=last_day.weekday())
                ).isoformat(),
            }
            week_params = sql_params(
                date.fromisoformat(weeks["dagster/asset_partition_range_start"]),
                date.fromisoformat(weeks["dagster/asset_partition_range_end"]) + timedelta(days=7),
            )
            bare_and_run(
                conn,
                "member_engagement_weekly",
                "weekly",
                week_params,
                "all weeks",
                lambda: run(member_engagement_weekly.member_engagement_weekly, tags=weeks),
                rounds=3,
            )
            months = {
                "dagster/asset_partition_range_start": first_day.replace(day=1).isoformat(),
                "dagster/asset_partition_range_end": last_day.replace(day=1).isoformat(),
            }
            last_month = date.fromisoformat(months["dagster/asset_partition_range_end"])
            month_params = sql_params(
                date.fromisoformat(months["dagster/asset_partition_range_start"]),
                (last_month.replace(day=28) + timedelta(days=4)).replace(day=1),
            )
            bare_and_run(
                conn,
                "member_monthly_status",
                "monthly",
                month_params,
                "all months",
                lambda: run(member_monthly_status.member_monthly_status, tags=months),
            )
            for asset_def in (
                dashboard_tables.cohort_retention,
                dashboard_tables.member_trend,
                dashboard_tables.event_success,
                dashboard_tables.event_type_success,
            ):
                _timed(f"{asset_def.key.path[-1]}: refresh", run, asset_def)

            print("acceptance checks over the whole history (SQL):")
            params = sql_params(first_day, last_day + timedelta(days=1))
            for check in ("member_voice_daily_matches_sessions", "member_voice_daily_known_members"):
                _, problems = _timed(check, run_script, conn, f"checks/{check}", params)
                assert problems == [], problems[:3]
            wparams = sql_params(
                date.fromisoformat(weeks["dagster/asset_partition_range_start"]), last_day + timedelta(days=7)
            )
            for check in ("member_engagement_weekly_matches_daily", "member_engagement_weekly_known_members"):
                _, problems = _timed(check, run_script, conn, f"checks/{check}", wparams)
                assert problems == [], problems[:3]

            print("dashboard queries (median of 5, what Superset runs):")
            for label, query in DASHBOARD_QUERIES.items():
                times = []
                for _ in range(5):
                    started = time.perf_counter()
                    n = len(conn.execute(query).fetchall())
                    times.append(time.perf_counter() - started)
                median_ms = statistics.median(times) * 1000
                flag = "ok" if median_ms < 300 else "OVER 300 ms"
                print(f"  {label:<40} {median_ms:8.1f} ms  ({n:,} rows) {flag}")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of the benchmark process: {peak_mb:.0f} MB")
    finally:
        cleanup.close()
        if os.environ.get("PWR_BENCH_KEEP") != "1":
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
