"""pwr_agg.voice_heatmap: voice hours by ISO weekday × local hour, pieces rounded per hour."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pwr_platform.defs.keys import VOICE_HEATMAP
from pwr_platform.warehouse.sql_runner import run_script, sql_params
from pwr_platform_tests.agg_runner import run_assets
from pwr_platform_tests.agg_scenario import insert_member, insert_scenario, insert_session, rows

HEATMAP = "SELECT weekday, weekday_name, hour_of_day, voice_hours FROM pwr_agg.voice_heatmap ORDER BY 1, 3"


def test_hand_computed_heatmap(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [VOICE_HEATMAP], first="2025-03-01", last="2025-03-16")
    assert rows(warehouse_conn, HEATMAP) == [
        (1, "Monday", 0, Decimal("0.75")),  # Bob 00:00–00:45 on Mon 10th
        (1, "Monday", 22, Decimal("1.00")),  # Ada 22:00–23:00 on Mon 3rd
        (1, "Monday", 23, Decimal("1.00")),
        (2, "Tuesday", 0, Decimal("1.00")),  # Ada after midnight
        (2, "Tuesday", 1, Decimal("0.50")),
        (2, "Tuesday", 10, Decimal("0.00")),  # 11 s
        (7, "Sunday", 23, Decimal("1.00")),  # Bob 23:00–24:00 on Sun 9th
    ]
    assert rows(
        warehouse_conn, "SELECT voice_seconds FROM pwr_agg.voice_heatmap_hourly WHERE hour_of_day = 10"
    ) == [(11,)]


def test_repeated_hour_when_dst_ends_counts_twice(warehouse_conn) -> None:
    """Europe/Berlin, 26 Oct 2025: 02:00–03:00 local happens twice; a session 00:30–01:30 UTC
    (02:30 CEST → 02:30 CET) lies entirely in local hour 2: 3600 s, split 1800 + 1800."""
    insert_member(warehouse_conn, 1, 1, "Dst", "2025-10-01T00:00Z")
    insert_session(warehouse_conn, 1, "2025-10-26T00:30:00Z", "2025-10-26T01:30:00Z")
    with warehouse_conn.transaction():
        run_script(
            warehouse_conn,
            "voice_heatmap",
            sql_params(date(2025, 10, 26), date(2025, 10, 27), tz="Europe/Berlin"),
        )
    assert rows(
        warehouse_conn, "SELECT activity_date, hour_of_day, voice_seconds FROM pwr_agg.voice_heatmap_hourly"
    ) == [(date(2025, 10, 26), 2, 3600)]
