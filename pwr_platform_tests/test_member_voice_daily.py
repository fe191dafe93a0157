"""pwr_agg.member_voice_daily on a real PostgreSQL: hand-computed days, idempotence, late events,
and a one-run 30-day backfill equal to 30 single-partition runs."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import psycopg
import pytest

from pwr_platform.defs.keys import MEMBER_VOICE_DAILY
from pwr_platform.warehouse.sql_runner import run_script, sql_params
from pwr_platform_tests.agg_runner import check_results, indexes_built_after, run_assets
from pwr_platform_tests.agg_scenario import (
    d,
    insert_member,
    insert_random_sessions,
    insert_scenario,
    insert_session,
    rows,
)

DAILY = "SELECT activity_date, member_id, total_sessions, total_voice_seconds FROM pwr_agg.member_voice_daily ORDER BY 1, 2"

EXPECTED = [
    (d("2025-03-03"), 1, 1, 7200),  # Ada 22:00 → midnight
    (d("2025-03-04"), 1, 1, 5400 + 11),  # Ada midnight → 01:30, plus the 10.5 s session (rounds to 11)
    (d("2025-03-05"), 3, 1, 0),  # Cat's zero-length session: started, no seconds
    (d("2025-03-09"), 2, 1, 3600),  # Bob 23:00 → midnight (Sunday)
    (d("2025-03-10"), 2, 0, 2700),  # Bob midnight → 00:45 (Monday): seconds, no session start
]


def test_hand_computed_days(warehouse_url: str, warehouse_conn: psycopg.Connection) -> None:
    insert_scenario(warehouse_conn)
    result = run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-03-01", last="2025-03-15")
    assert rows(warehouse_conn, DAILY) == EXPECTED
    assert check_results(result) == {
        "member_voice_daily:daily_totals_match_sessions": True,
        "member_voice_daily:no_rows_for_unknown_members": True,
    }
    materialization = result.asset_materializations_for_node("pwr_agg__member_voice_daily")[0]
    assert materialization.metadata["voice_seconds"].value == 7200 + 5411 + 3600 + 2700


def test_single_partition_touches_only_its_day(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], partition="2025-03-04")
    assert rows(warehouse_conn, DAILY) == [(d("2025-03-04"), 1, 1, 5411)]


def test_rematerializing_a_partition_twice_changes_nothing(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-03-01", last="2025-03-15")
    before = rows(warehouse_conn, DAILY)
    for _ in range(2):
        run_assets(warehouse_url, [MEMBER_VOICE_DAILY], partition="2025-03-04")
        run_assets(warehouse_url, [MEMBER_VOICE_DAILY], partition="2025-03-10")
        assert rows(warehouse_conn, DAILY) == before


def test_late_session_lands_after_the_late_window_run(warehouse_url: str, warehouse_conn) -> None:
    """A session for a past day arrives late: the nightly late-window range run picks it up."""
    from dagster import build_schedule_context

    from pwr_platform.defs.agg.automation import RANGE_END_TAG, RANGE_START_TAG, daily_aggregates_schedule

    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-03-01", last="2025-03-12")
    insert_session(warehouse_conn, 4, "2025-03-10T08:00:00Z", "2025-03-10T09:00:00Z")  # late: Dan, Monday
    assert (d("2025-03-10"), 4, 1, 3600) not in rows(warehouse_conn, DAILY)

    from datetime import datetime

    tick = datetime(2025, 3, 12, 0, 15, tzinfo=UTC)  # midnight tick of Wed 12th: 9th … 12th
    request = daily_aggregates_schedule(build_schedule_context(scheduled_execution_time=tick))
    first, last = request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]
    assert (first, last) == ("2025-03-09", "2025-03-12")
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first=first, last=last)
    assert rows(warehouse_conn, DAILY) == sorted([*EXPECTED, (d("2025-03-10"), 4, 1, 3600)])


def test_range_backfill_in_one_run_equals_single_partition_runs(
    warehouse_url: str, pg_server_url: str, warehouse_conn
) -> None:
    """30 days as one run give exactly the rows of 30 one-day runs (random, capped sessions)."""
    insert_random_sessions(
        warehouse_conn, members=12, sessions=600, days=31, max_duration="11 hours 59 minutes", seed=0.42
    )
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-05-02", last="2025-05-31")
    one_run = rows(warehouse_conn, DAILY)
    warehouse_conn.execute("DELETE FROM pwr_agg.member_voice_daily")
    for offset in range(30):
        day = date(2025, 5, 2) + timedelta(days=offset)
        run_assets(warehouse_url, [MEMBER_VOICE_DAILY], partition=day.isoformat(), with_checks=False)
    assert rows(warehouse_conn, DAILY) == one_run
    assert len(one_run) > 200
    assert {r[0] for r in one_run} == {date(2025, 5, 2) + timedelta(days=i) for i in range(30)}


def test_days_follow_the_reporting_time_zone(warehouse_conn) -> None:
    """In Europe/Berlin (UTC+1 in March), Ada's 22:00–01:30 UTC session is 23:00–02:30 local."""
    insert_scenario(warehouse_conn)
    with warehouse_conn.transaction():
        run_script(
            warehouse_conn,
            "member_voice_daily",
            sql_params(date(2025, 3, 1), date(2025, 3, 16), tz="Europe/Berlin"),
        )
    got = rows(warehouse_conn, DAILY + "")
    assert (d("2025-03-03"), 1, 1, 3600) in got  # 23:00–24:00 local
    assert (d("2025-03-04"), 1, 1, 9000 + 11) in got  # 00:00–02:30 local + the short session
    assert (d("2025-03-10"), 2, 1, 6300) in got  # Bob 00:00–01:45 local, all on Monday


def test_only_completed_sessions_count(warehouse_url: str, warehouse_conn) -> None:
    insert_member(warehouse_conn, 1, 1, "Solo", "2025-03-01T00:00Z")
    insert_session(warehouse_conn, 1, "2025-03-02T10:00:00Z", None)
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], partition="2025-03-02")
    assert rows(warehouse_conn, DAILY) == []


INDEXES = """
SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'pwr_agg' AND tablename = 'member_voice_daily'
UNION ALL
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = 'pwr_agg.member_voice_daily'::regclass
ORDER BY 1
"""


def test_a_whole_table_rebuild_builds_the_indexes_after_the_insert(
    warehouse_url: str, warehouse_conn
) -> None:
    """Issue 16: a run whose window holds every row (a backfill of everything, a new warehouse)
    drops the table's indexes, primary and foreign keys, inserts, and builds them again from the catalog's
    own definitions: the same indexes and rows as a run that maintains them row by row, checks
    green; a run of one day among others leaves the indexes alone."""
    insert_random_sessions(
        warehouse_conn, members=9, sessions=300, days=20, max_duration="11 hours", seed=0.16
    )
    indexes = rows(warehouse_conn, INDEXES)
    assert len(indexes) == 4  # primary key (constraint + its index), the member index, the foreign key
    whole = run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-05-01", last="2025-05-21")
    assert indexes_built_after(whole)
    assert all(check_results(whole).values()), check_results(whole)
    assert rows(warehouse_conn, INDEXES) == indexes
    rebuilt = rows(warehouse_conn, DAILY)
    assert len(rebuilt) > 100

    # a second backfill of everything over the full table: the same rows, and the table empties
    # at once (TRUNCATE) rather than row by row (DELETE left it twice its size until a VACUUM)
    size = "SELECT pg_relation_size('pwr_agg.member_voice_daily')"
    first_size = warehouse_conn.execute(size).fetchone()[0]
    again = run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-05-01", last="2025-05-21")
    assert indexes_built_after(again)
    assert rows(warehouse_conn, DAILY) == rebuilt
    assert warehouse_conn.execute(size).fetchone()[0] == first_size
    assert rows(warehouse_conn, INDEXES) == indexes

    one_day = run_assets(warehouse_url, [MEMBER_VOICE_DAILY], partition="2025-05-10")
    assert not indexes_built_after(one_day)
    assert all(check_results(one_day).values())
    assert rows(warehouse_conn, DAILY) == rebuilt
    # the same rows as runs that keep the indexes: day by day into a table that has other days
    warehouse_conn.execute("DELETE FROM pwr_agg.member_voice_daily WHERE activity_date <> '2025-05-21'")
    for offset in range(20):
        day = date(2025, 5, 1) + timedelta(days=offset)
        result = run_assets(warehouse_url, [MEMBER_VOICE_DAILY], partition=day.isoformat(), with_checks=False)
        assert not indexes_built_after(result)
    assert rows(warehouse_conn, DAILY) == rebuilt
    # the primary key and the foreign key are back in force
    with pytest.raises(psycopg.errors.UniqueViolation):
        warehouse_conn.execute(
            "INSERT INTO pwr_agg.member_voice_daily SELECT * FROM pwr_agg.member_voice_daily LIMIT 1"
        )
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        warehouse_conn.execute("INSERT INTO pwr_agg.member_voice_daily VALUES ('2025-06-01', 999, 1, 1)")
