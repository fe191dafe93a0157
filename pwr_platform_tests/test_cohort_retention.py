"""pwr_agg.cohort_retention from the monthly status of the hand-computed scenario."""

from __future__ import annotations

from decimal import Decimal

from pwr_platform.defs.keys import COHORT_RETENTION, MEMBER_MONTHLY_STATUS
from pwr_platform_tests.agg_runner import run_assets
from pwr_platform_tests.agg_scenario import d, insert_scenario, rows


def test_hand_computed_cohorts_form_a_triangle_from_month_0(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_MONTHLY_STATUS], first="2025-01-01", last="2025-03-01")
    run_assets(warehouse_url, [COHORT_RETENTION])
    assert rows(warehouse_conn, "SELECT * FROM pwr_agg.cohort_retention ORDER BY 1, 2") == [
        # Eve (December cohort) joined before the first status month (January): not shown, since
        # her cohort would start at month 1 and break the triangle
        # Ada + Dan (January): nobody in January or February, Ada in March
        (d("2025-01-01"), 0, 2, 0, Decimal("0.0000")),
        (d("2025-01-01"), 1, 2, 0, Decimal("0.0000")),
        (d("2025-01-01"), 2, 2, 1, Decimal("0.5000")),
        # Bob (first seen) + Cat (mid-month join) in March: Bob active, Cat's only session is empty
        (d("2025-03-01"), 0, 2, 1, Decimal("0.5000")),
        # Fay joins in April: no status month yet, no row
    ]


def test_refresh_replaces_every_row(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_MONTHLY_STATUS], first="2025-01-01", last="2025-03-01")
    run_assets(warehouse_url, [COHORT_RETENTION])
    warehouse_conn.execute("DELETE FROM pwr_agg.member_monthly_status WHERE month_start_date = '2025-02-01'")
    run_assets(warehouse_url, [COHORT_RETENTION])
    assert [r[1] for r in rows(warehouse_conn, "SELECT * FROM pwr_agg.cohort_retention ORDER BY 1, 2")] == [
        0,
        2,
        0,
    ]
