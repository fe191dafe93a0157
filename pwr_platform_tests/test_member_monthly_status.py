"""pwr_agg.member_monthly_status: eligible members per month, inactive ones with FALSE."""

from __future__ import annotations

from pwr_platform.defs.keys import MEMBER_MONTHLY_STATUS
from pwr_platform_tests.agg_runner import check_results, run_assets
from pwr_platform_tests.agg_scenario import d, insert_scenario, rows

MONTHLY = "SELECT month_start_date, member_id, was_active FROM pwr_agg.member_monthly_status ORDER BY 1, 2"


def test_hand_computed_months(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    result = run_assets(warehouse_url, [MEMBER_MONTHLY_STATUS], first="2025-02-01", last="2025-03-01")
    assert rows(warehouse_conn, MONTHLY) == [
        # February: Ada and Dan joined in January, Eve leaves on the 15th (not before the 1st);
        # nobody was in voice. Bob (first seen 9 March) and Cat (joined 5 March) are not yet members.
        (d("2025-02-01"), 1, False),
        (d("2025-02-01"), 4, False),
        (d("2025-02-01"), 5, False),
        # March: Ada and Bob in voice; Cat joined mid-month but her only session has zero length
        # (no positive overlap); Dan inactive; Eve left before 1 March; Fay joins in April.
        (d("2025-03-01"), 1, True),
        (d("2025-03-01"), 2, True),
        (d("2025-03-01"), 3, False),
        (d("2025-03-01"), 4, False),
    ]
    assert check_results(result) == {"member_monthly_status:covers_every_eligible_member": True}


def test_an_attended_event_alone_makes_a_member_active(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    warehouse_conn.execute(
        "INSERT INTO pwr_core.event_attendance (event_id, member_id, first_join_ts, last_leave_ts,"
        " total_voice_seconds, joined_on_time) VALUES (5, 4, '2025-03-12T18:00Z', '2025-03-12T18:30Z', 1800, true)"
    )
    run_assets(warehouse_url, [MEMBER_MONTHLY_STATUS], partition="2025-03-01")
    assert (d("2025-03-01"), 4, True) in rows(warehouse_conn, MONTHLY)


def test_rematerializing_a_month_changes_nothing(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_MONTHLY_STATUS], partition="2025-03-01")
    once = rows(warehouse_conn, MONTHLY)
    run_assets(warehouse_url, [MEMBER_MONTHLY_STATUS], partition="2025-03-01")
    assert rows(warehouse_conn, MONTHLY) == once
