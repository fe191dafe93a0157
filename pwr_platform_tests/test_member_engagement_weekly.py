"""pwr_agg.member_engagement_weekly: sums of days per ISO week, events by window start week."""

from __future__ import annotations

from pwr_platform.defs.keys import MEMBER_ENGAGEMENT_WEEKLY, MEMBER_VOICE_DAILY
from pwr_platform_tests.agg_runner import check_results, indexes_built_after, run_assets
from pwr_platform_tests.agg_scenario import d, insert_scenario, rows

WEEKLY = (
    "SELECT week_start_date, member_id, total_voice_seconds, events_attended, distinct_event_types"
    " FROM pwr_agg.member_engagement_weekly ORDER BY 1, 2"
)


def test_hand_computed_weeks(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-03-01", last="2025-03-16")
    result = run_assets(warehouse_url, [MEMBER_ENGAGEMENT_WEEKLY], first="2025-02-24", last="2025-03-10")
    assert rows(warehouse_conn, WEEKLY) == [
        # week of Mon 3 March: Ada 7200 + 5411; Bob's Sunday hour; Cat's zero-length session
        (d("2025-03-03"), 1, 12611, 0, 0),
        (d("2025-03-03"), 2, 3600, 0, 0),
        (d("2025-03-03"), 3, 0, 0, 0),
        # week of Mon 10 March: Ada only at E1 (her open session has no daily seconds);
        # Bob: 2700 s after midnight, E3 (window starts Monday by its actual times) and E1 attended
        # late; both scrims: 1 type. Dan's attendance of the cancelled E6 is ignored.
        (d("2025-03-10"), 1, 0, 1, 1),
        (d("2025-03-10"), 2, 2700, 2, 1),
    ]
    assert set(check_results(result).values()) == {True}


def test_week_partition_is_replaced_atomically_and_idempotently(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-03-01", last="2025-03-16")
    run_assets(warehouse_url, [MEMBER_ENGAGEMENT_WEEKLY], partition="2025-03-10")
    once = rows(warehouse_conn, WEEKLY)
    run_assets(warehouse_url, [MEMBER_ENGAGEMENT_WEEKLY], partition="2025-03-10")
    assert rows(warehouse_conn, WEEKLY) == once
    assert {r[0] for r in once} == {d("2025-03-10")}


KEYS_AND_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'pwr_agg' AND tablename = 'member_engagement_weekly'
UNION ALL
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = 'pwr_agg.member_engagement_weekly'::regclass
ORDER BY 1, 2
"""


def test_a_whole_table_rebuild_keeps_the_keys_and_the_member_index(
    warehouse_url: str, warehouse_conn
) -> None:
    """Migration 0018: the member index is on member_id alone (every read by member reads all its
    weeks; by week, the primary key serves). A run over every week drops and builds the keys and
    indexes again from the catalog: the same definitions afterwards."""
    before = rows(warehouse_conn, KEYS_AND_INDEXES)
    assert before == [
        (
            "member_engagement_weekly_member",
            "CREATE INDEX member_engagement_weekly_member ON pwr_agg.member_engagement_weekly"
            " USING btree (member_id)",
        ),
        (
            "member_engagement_weekly_member_id_fkey",
            "FOREIGN KEY (member_id) REFERENCES pwr_core.members(member_id)",
        ),
        (
            "member_engagement_weekly_pkey",
            "CREATE UNIQUE INDEX member_engagement_weekly_pkey ON pwr_agg.member_engagement_weekly"
            " USING btree (week_start_date, member_id)",
        ),
        ("member_engagement_weekly_pkey", "PRIMARY KEY (week_start_date, member_id)"),
    ]
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-03-01", last="2025-03-16")
    result = run_assets(warehouse_url, [MEMBER_ENGAGEMENT_WEEKLY], first="2025-02-24", last="2025-03-10")
    assert indexes_built_after(result)
    assert rows(warehouse_conn, KEYS_AND_INDEXES) == before
    assert len(rows(warehouse_conn, WEEKLY)) == 5
