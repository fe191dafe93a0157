"""pwr_agg.event_success and pwr_agg.event_type_success on the hand-computed events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pwr_platform.defs.keys import EVENT_SUCCESS, EVENT_TYPE_SUCCESS
from pwr_platform_tests.agg_runner import run_assets
from pwr_platform_tests.agg_scenario import insert_scenario, rows

D = Decimal


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_per_event_and_per_type(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [EVENT_SUCCESS])
    run_assets(warehouse_url, [EVENT_TYPE_SUCCESS])
    assert rows(warehouse_conn, "SELECT * FROM pwr_agg.event_success ORDER BY event_id") == [
        # E1: Ada on time, Bob late; (3600 + 1800) / 60 / 2 = 45 minutes
        (1, "Friday scrim", "scrim", ts("2025-03-11T20:05+00:00"), 2, 1, 1, D("0.5000"), D("45.00"), 5400),
        # E3: window starts at its actual start
        (
            3,
            "Late-night scrim",
            "scrim",
            ts("2025-03-10T00:30+00:00"),
            1,
            1,
            0,
            D("1.0000"),
            D("40.00"),
            2400,
        ),
        # E5: nobody came; the cancelled E6 is not listed
        (5, "Empty meetup", None, ts("2025-03-12T18:00+00:00"), 0, 0, 0, None, None, 0),
    ]
    assert rows(warehouse_conn, "SELECT * FROM pwr_agg.event_type_success ORDER BY 1") == [
        ("(none)", 1, D("0.00"), None, None),
        # 2 of 3 attendees on time; 7800 s / 60 / 3 attendees = 43.33 minutes
        ("scrim", 2, D("1.50"), D("0.6667"), D("43.33")),
    ]
