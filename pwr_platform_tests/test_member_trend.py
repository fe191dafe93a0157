"""pwr_agg.member_trend: last 4 full weeks vs the 4 before, relative to the data's newest day."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from pwr_platform.defs.keys import MEMBER_TREND
from pwr_platform_tests.agg_runner import run_assets
from pwr_platform_tests.agg_scenario import insert_member, rows

# Newest day Wed 2025-03-12: the week of 10 March is not full, so "recent" = the 4 weeks of
# 10 Feb … 3 March, "previous" = 13 Jan … 3 Feb.
RECENT = [date(2025, 2, 10) + timedelta(weeks=i) for i in range(4)]
PREVIOUS = [date(2025, 1, 13) + timedelta(weeks=i) for i in range(4)]


def _week(conn, week: date, member_id: int, hours: float, events: int = 0) -> None:
    conn.execute(
        "INSERT INTO pwr_agg.member_engagement_weekly VALUES (%s, %s, %s, %s, %s)",
        (week, member_id, int(hours * 3600), events, min(events, 1)),
    )


def test_labels(warehouse_url: str, warehouse_conn) -> None:
    c = warehouse_conn
    for member_id, name, joined, left in [
        (1, "Rising", "2024-06-01T00:00Z", None),
        (2, "Falling", "2024-06-01T00:00Z", None),
        (3, "Steady", "2024-06-01T00:00Z", None),
        (4, "Newbie", "2025-02-01T00:00Z", None),
        (5, "Returning", "2024-06-01T00:00Z", None),
        (6, "Idle", "2024-01-01T00:00Z", None),
        (7, "Gone", "2024-01-01T00:00Z", "2024-12-01T00:00Z"),
    ]:
        insert_member(c, member_id, 100 + member_id, name, joined, joined, left)
    c.execute("INSERT INTO pwr_agg.member_voice_daily VALUES ('2025-03-12', 1, 1, 600)")
    _week(c, PREVIOUS[0], 1, 2)
    _week(c, RECENT[1], 1, 6)
    _week(c, RECENT[3], 1, 4)
    _week(c, date(2025, 3, 10), 1, 50)  # the running week is not counted
    _week(c, PREVIOUS[1], 2, 10)
    _week(c, RECENT[0], 2, 2)
    _week(c, PREVIOUS[2], 3, 5, events=1)  # 5 h + 1 event = 6
    _week(c, RECENT[2], 3, 6)  # 6
    _week(c, RECENT[0], 4, 3)
    _week(c, RECENT[0], 5, 0, events=1)
    _week(c, date(2024, 12, 30), 6, 9)  # before the frame
    run_assets(warehouse_url, [MEMBER_TREND])
    got = rows(
        c,
        "SELECT member_id, display_name, recent_voice_hours, previous_voice_hours, recent_events,"
        " previous_events, voice_hours_change, trend_label, recent_weeks_start, recent_weeks_end"
        " FROM pwr_agg.member_trend ORDER BY 1",
    )
    D = Decimal
    frame = (date(2025, 2, 10), date(2025, 3, 9))
    assert got == [
        (1, "Rising", D("10.00"), D("2.00"), 0, 0, D("8.00"), "rising", *frame),
        (2, "Falling", D("2.00"), D("10.00"), 0, 0, D("-8.00"), "falling", *frame),
        (3, "Steady", D("6.00"), D("5.00"), 0, 1, D("1.00"), "steady", *frame),
        (4, "Newbie", D("3.00"), D("0.00"), 0, 0, D("3.00"), "new", *frame),
        (5, "Returning", D("0.00"), D("0.00"), 1, 0, D("0.00"), "rising", *frame),
        (6, "Idle", D("0.00"), D("0.00"), 0, 0, D("0.00"), "inactive", *frame),
        # 7 left before the frame: not listed
    ]


def test_no_data_gives_an_empty_table(warehouse_url: str, warehouse_conn) -> None:
    insert_member(warehouse_conn, 1, 1, "Solo", "2025-01-01T00:00Z")
    run_assets(warehouse_url, [MEMBER_TREND])
    assert rows(warehouse_conn, "SELECT * FROM pwr_agg.member_trend") == []
