"""The acceptance checks pass on correct aggregates and FAIL when the data breaks each rule."""

from __future__ import annotations

from datetime import date

from pwr_platform.defs.keys import MEMBER_ENGAGEMENT_WEEKLY, MEMBER_MONTHLY_STATUS, MEMBER_VOICE_DAILY
from pwr_platform.warehouse.sql_runner import run_script, sql_params
from pwr_platform_tests.agg_runner import ASSETS, check_results, checks_of, run_assets
from pwr_platform_tests.agg_scenario import insert_member, insert_scenario, insert_session


def _run_checks_only(url: str, key, partition=None, first=None, last=None) -> dict[str, bool]:
    """Run the asset's checks without re-materializing it (as from the UI's "Execute checks")."""
    from dagster import AssetSelection, materialize

    from pwr_platform.defs.agg.automation import RANGE_END_TAG, RANGE_START_TAG
    from pwr_platform.defs.resources import WarehouseResource

    checks = checks_of([key])
    # the checks read the partitions to cover from the run's tags, as in a partitioned run
    tags = {RANGE_START_TAG: first, RANGE_END_TAG: last} if first else {}
    if partition:
        tags["dagster/partition"] = partition
    result = materialize(
        [ASSETS[key], *checks],
        selection=AssetSelection.checks(*checks),
        tags=tags,
        resources={"warehouse": WarehouseResource(database_url=url)},
    )
    return check_results(result)


def test_daily_checks_fail_on_wrong_totals_and_unknown_members(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-03-01", last="2025-03-15")
    assert set(_run_checks_only(warehouse_url, MEMBER_VOICE_DAILY).values()) == {True}

    # a session stored after the day was built: that day's totals no longer match
    insert_session(warehouse_conn, 4, "2025-03-06T10:00:00Z", "2025-03-06T10:30:00Z")
    got = _run_checks_only(warehouse_url, MEMBER_VOICE_DAILY, partition="2025-03-06")
    assert got == {
        "member_voice_daily:daily_totals_match_sessions": False,
        "member_voice_daily:no_rows_for_unknown_members": True,
    }
    # re-materializing the day repairs it
    result = run_assets(warehouse_url, [MEMBER_VOICE_DAILY], partition="2025-03-06")
    assert set(check_results(result).values()) == {True}

    # a row for a member with no voice that day (e.g. left over after a session rebuild)
    insert_member(warehouse_conn, 9, 9009, "Ghost", "2025-01-01T00:00Z")
    warehouse_conn.execute("INSERT INTO pwr_agg.member_voice_daily VALUES ('2025-03-07', 9, 0, 0)")
    got = _run_checks_only(warehouse_url, MEMBER_VOICE_DAILY, first="2025-03-01", last="2025-03-15")
    assert got["member_voice_daily:no_rows_for_unknown_members"] is False


def test_weekly_checks_fail_when_weeks_and_days_disagree(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-03-01", last="2025-03-16")
    run_assets(warehouse_url, [MEMBER_ENGAGEMENT_WEEKLY], first="2025-03-03", last="2025-03-10")
    assert set(_run_checks_only(warehouse_url, MEMBER_ENGAGEMENT_WEEKLY).values()) == {True}

    # the daily partition of Tuesday is re-run with more voice, the week is not: sums disagree
    warehouse_conn.execute(
        "UPDATE pwr_agg.member_voice_daily SET total_voice_seconds = total_voice_seconds + 60"
        " WHERE activity_date = '2025-03-04'"
    )
    got = _run_checks_only(warehouse_url, MEMBER_ENGAGEMENT_WEEKLY, partition="2025-03-03")
    assert got["member_engagement_weekly:weekly_totals_equal_sum_of_days"] is False

    insert_member(warehouse_conn, 9, 9009, "Ghost", "2025-01-01T00:00Z")
    warehouse_conn.execute("INSERT INTO pwr_agg.member_engagement_weekly VALUES ('2025-03-10', 9, 0, 0, 0)")
    got = _run_checks_only(warehouse_url, MEMBER_ENGAGEMENT_WEEKLY, partition="2025-03-10")
    assert got["member_engagement_weekly:no_rows_for_unknown_members"] is False


def test_monthly_check_fails_on_missing_or_unexpected_members(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_MONTHLY_STATUS], partition="2025-03-01")
    key = "member_monthly_status:covers_every_eligible_member"
    assert _run_checks_only(warehouse_url, MEMBER_MONTHLY_STATUS)[key] is True

    # a member who joined in March is synced after the month was built: not covered
    insert_member(warehouse_conn, 8, 8008, "Late sync", "2025-03-20T00:00Z", "2025-03-20T00:00Z")
    assert _run_checks_only(warehouse_url, MEMBER_MONTHLY_STATUS, partition="2025-03-01")[key] is False
    run_assets(warehouse_url, [MEMBER_MONTHLY_STATUS], partition="2025-03-01")
    assert _run_checks_only(warehouse_url, MEMBER_MONTHLY_STATUS, partition="2025-03-01")[key] is True

    # a row for Fay, who only joins in April: not eligible in March
    warehouse_conn.execute("INSERT INTO pwr_agg.member_monthly_status VALUES ('2025-03-01', 6, false)")
    assert _run_checks_only(warehouse_url, MEMBER_MONTHLY_STATUS, partition="2025-03-01")[key] is False


def _daily_check(conn, name: str, start: str, end: str, tz: str) -> list[tuple]:
    """The check's rows for local days [start, end) in ``tz``, first three columns, dates as text."""
    params = sql_params(date.fromisoformat(start), date.fromisoformat(end), tz=tz)
    rows = run_script(conn, f"checks/{name}", params)
    return [(str(r[0]), r[1], r[2]) for r in (tuple(row.values()) for row in rows)]


def test_daily_checks_see_pieces_after_midnight_and_across_a_dst_change(warehouse_conn) -> None:
    """The daily checks pair each session with the local days its start day and the session cap
    allow, then let the day's bounds decide (issue 16, sixth round). In Europe/Berlin the night of
    2025-03-30 is 23 hours long: a session from Saturday 23:30 local to Sunday 03:30 local gives
    Saturday 1,800 s and Sunday 9,000 s; an 11-hour session from Sunday 22:00 local gives Monday
    most of its seconds. Each day is checked, and a wrong piece on the day after a start is found."""
    tz = "Europe/Berlin"
    insert_member(warehouse_conn, 1, 1001, "Ada", "2025-01-15T00:00Z")
    insert_member(warehouse_conn, 2, 1002, "Bob", "2025-01-15T00:00Z")
    insert_session(warehouse_conn, 1, "2025-03-29T22:30:00Z", "2025-03-30T01:30:00Z")
    insert_session(warehouse_conn, 2, "2025-03-30T20:00:00Z", "2025-03-31T07:00:00Z")
    with warehouse_conn.transaction():
        run_script(
            warehouse_conn, "member_voice_daily", sql_params(date(2025, 3, 28), date(2025, 4, 2), tz=tz)
        )
    stored = warehouse_conn.execute(
        "SELECT activity_date::text, member_id, total_voice_seconds FROM pwr_agg.member_voice_daily ORDER BY 1, 2"
    ).fetchall()
    assert stored == [
        ("2025-03-29", 1, 1800),
        ("2025-03-30", 1, 9000),
        ("2025-03-30", 2, 7200),
        ("2025-03-31", 2, 32400),
    ]
    window = ("2025-03-28", "2025-04-02", tz)
    assert _daily_check(warehouse_conn, "member_voice_daily_matches_sessions", *window) == []
    assert _daily_check(warehouse_conn, "member_voice_daily_known_members", *window) == []

    # Sunday's piece of Ada's Saturday session is one second off: Sunday alone is reported
    warehouse_conn.execute(
        "UPDATE pwr_agg.member_voice_daily SET total_voice_seconds = 9001 WHERE activity_date = '2025-03-30' AND member_id = 1"
    )
    wrong = _daily_check(warehouse_conn, "member_voice_daily_matches_sessions", *window)
    assert wrong == [("2025-03-30", 7200 + 9001, 7200 + 9000)]
    # Bob's Monday row gone: Monday is reported (its seconds come from a Sunday start)
    warehouse_conn.execute(
        "UPDATE pwr_agg.member_voice_daily SET total_voice_seconds = 9000 WHERE member_id = 1 AND activity_date = '2025-03-30'"
    )
    warehouse_conn.execute("DELETE FROM pwr_agg.member_voice_daily WHERE activity_date = '2025-03-31'")
    missing = _daily_check(warehouse_conn, "member_voice_daily_matches_sessions", *window)
    assert missing == [("2025-03-31", 0, 32400)]
    # a row for Ada on Monday, when she had no voice: not known to the sources
    warehouse_conn.execute("INSERT INTO pwr_agg.member_voice_daily VALUES ('2025-03-31', 1, 0, 0)")
    unknown = _daily_check(warehouse_conn, "member_voice_daily_known_members", *window)
    assert unknown == [("2025-03-31", 1, False)]
