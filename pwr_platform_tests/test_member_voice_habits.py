"""pwr_agg.member_voice_habits on the hand-computed scenario: sessions by the week and hour they start."""

from __future__ import annotations

from pwr_platform.defs.keys import MEMBER_VOICE_HABITS
from pwr_platform.warehouse.sql_runner import run_script, sql_params
from pwr_platform_tests.agg_runner import run_assets
from pwr_platform_tests.agg_scenario import CHANNEL, d, insert_scenario, insert_session, rows

HABITS = "SELECT * FROM pwr_agg.member_voice_habits ORDER BY member_id, week_start_date, discord_channel_id, hour_of_day"


def test_sessions_count_in_the_week_and_hour_they_start(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    insert_session(warehouse_conn, 1, "2025-03-05T22:30:00Z", "2025-03-05T23:00:00Z", channel=200)
    run_assets(warehouse_url, [MEMBER_VOICE_HABITS])
    assert rows(warehouse_conn, HABITS) == [
        (1, d("2025-03-03"), CHANNEL, 10, 1, 11),  # 10.5 s stored as 11
        (1, d("2025-03-03"), CHANNEL, 22, 1, 12600),  # 22:00 → 01:30 next day: all in hour 22
        (1, d("2025-03-03"), 200, 22, 1, 1800),  # another channel, same hour
        # Ada's open session (03-10) is not counted
        (2, d("2025-03-03"), CHANNEL, 23, 1, 6300),  # Sunday 23:00 → Monday: the week it started in
        (3, d("2025-03-03"), CHANNEL, 12, 1, 0),  # zero length: a session, 0 s
    ]
    # a refresh replaces every row (same result, nothing doubled)
    run_assets(warehouse_url, [MEMBER_VOICE_HABITS])
    assert len(rows(warehouse_conn, HABITS)) == 5


def test_weeks_and_hours_follow_the_reporting_time_zone(warehouse_conn) -> None:
    """In Europe/Berlin (UTC+1 in March) Bob's Sunday 23:00 UTC start is Monday 00:00 local: next week."""
    insert_scenario(warehouse_conn)
    with warehouse_conn.transaction():
        run_script(warehouse_conn, "member_voice_habits", sql_params(tz="Europe/Berlin"))
    got = rows(warehouse_conn, HABITS)
    assert (2, d("2025-03-10"), CHANNEL, 0, 1, 6300) in got
    assert (1, d("2025-03-03"), CHANNEL, 23, 1, 12600) in got
