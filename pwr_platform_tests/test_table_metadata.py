"""What the Dagster UI shows on a materialization: row counts equal to SQL's, the column schema as
PostgreSQL's catalog has it, a preview of a dashboard table, and a code reference to the SQL file."""

from __future__ import annotations

import pytest

from pwr_platform.definitions import build_definitions
from pwr_platform.defs.keys import (
    EVENT_SUCCESS,
    MEMBER_ENGAGEMENT_WEEKLY,
    MEMBER_MONTHLY_STATUS,
    MEMBER_VOICE_DAILY,
    VOICE_HEATMAP,
)
from pwr_platform.warehouse.sql_runner import sql_path
from pwr_platform_tests.agg_runner import run_assets
from pwr_platform_tests.agg_scenario import insert_scenario


def test_partitioned_materialization_counts_rows_like_sql(warehouse_url, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    run_assets(warehouse_url, [MEMBER_VOICE_DAILY], first="2025-03-01", last="2025-03-15", with_checks=False)
    result = run_assets(warehouse_url, [MEMBER_VOICE_DAILY], partition="2025-03-04", with_checks=False)
    metadata = result.asset_materializations_for_node("pwr_agg__member_voice_daily")[0].metadata
    total, in_day = warehouse_conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE activity_date = '2025-03-04') FROM pwr_agg.member_voice_daily"
    ).fetchone()
    assert (metadata["dagster/row_count"].value, metadata["dagster/partition_row_count"].value) == (
        total,
        in_day,
    )
    assert (total, in_day) == (5, 1)
    columns = metadata["dagster/column_schema"].schema.columns
    catalog = warehouse_conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'pwr_agg' AND table_name = 'member_voice_daily' ORDER BY ordinal_position"
    ).fetchall()
    assert [(c.name, c.type) for c in columns] == catalog
    comments = dict(
        warehouse_conn.execute(
            "SELECT attname, col_description(attrelid, attnum) FROM pg_attribute "
            "WHERE attrelid = 'pwr_agg.member_voice_daily'::regclass AND attnum > 0 AND NOT attisdropped"
        ).fetchall()
    )
    assert {c.name: c.description for c in columns} == comments


# Each windowed aggregate: the table the UI counts, the table its partitions are stored in, their
# period column, its run's summary figures as SQL over a window, and two runs: the whole table
# (indexes built after the insert) and then one partition among others.
WINDOWED = {
    MEMBER_VOICE_DAILY: (
        "pwr_agg.member_voice_daily",
        "pwr_agg.member_voice_daily",
        "activity_date",
        "count(*), coalesce(sum(total_voice_seconds), 0), count(DISTINCT member_id)",
        ("rows_written", "voice_seconds", "members"),
        {"first": "2025-03-01", "last": "2025-03-16"},
        {"partition": "2025-03-04"},
    ),
    VOICE_HEATMAP: (
        "pwr_agg.voice_heatmap",
        "pwr_agg.voice_heatmap_hourly",
        "activity_date",
        "count(*), coalesce(sum(voice_seconds), 0)",
        ("rows_written", "voice_seconds"),
        {"first": "2025-03-01", "last": "2025-03-16"},
        {"partition": "2025-03-04"},
    ),
    MEMBER_ENGAGEMENT_WEEKLY: (
        "pwr_agg.member_engagement_weekly",
        "pwr_agg.member_engagement_weekly",
        "week_start_date",
        "count(*), coalesce(sum(total_voice_seconds), 0), coalesce(sum(events_attended), 0)",
        ("rows_written", "voice_seconds", "events_attended"),
        {"first": "2025-02-24", "last": "2025-03-10"},
        {"partition": "2025-03-03"},
    ),
    MEMBER_MONTHLY_STATUS: (
        "pwr_agg.member_monthly_status",
        "pwr_agg.member_monthly_status",
        "month_start_date",
        "count(*), count(*) FILTER (WHERE was_active)",
        ("rows_written", "active_rows"),
        {"first": "2025-02-01", "last": "2025-03-01"},
        {"partition": "2025-03-01"},
    ),
}


@pytest.mark.parametrize("key", list(WINDOWED), ids=lambda k: k.path[-1])
def test_window_figures_equal_sql(key, warehouse_url, warehouse_conn) -> None:
    """A windowed aggregate's figures come from its INSERT's own RETURNING rows (and, when the run
    rebuilt the whole table, its row count too): they equal SQL over the table afterwards, for a
    whole-table run and for one partition among others."""
    shown, stored, column, figures_sql, names, whole, one = WINDOWED[key]
    insert_scenario(warehouse_conn)
    if key == MEMBER_ENGAGEMENT_WEEKLY:
        run_assets(
            warehouse_url, [MEMBER_VOICE_DAILY], first="2025-03-01", last="2025-03-16", with_checks=False
        )
    for run, rebuilt in ((whole, True), (one, False)):
        result = run_assets(warehouse_url, [key], with_checks=False, **run)
        metadata = result.asset_materializations_for_node("__".join(key.path))[0].metadata
        assert metadata["indexes_built_after_insert"].value is rebuilt
        window = (metadata["window_start"].value, metadata["window_end_exclusive"].value)
        in_window = f"FROM {stored} WHERE {column} >= %s AND {column} < %s"
        figures = warehouse_conn.execute(f"SELECT {figures_sql} {in_window}", window).fetchone()
        total = warehouse_conn.execute(f"SELECT count(*) FROM {shown}").fetchone()[0]
        assert {name: metadata[name].value for name in names} == dict(zip(names, figures, strict=True))
        assert figures[0] > 0
        assert metadata["dagster/row_count"].value == total
        if rebuilt:
            # a range run: Dagster puts its metadata on every partition, so no partition row count
            # (the range's would read as each partition's); the run's own count is rows_written
            assert len(result.asset_materializations_for_node("__".join(key.path))) > 1
            assert "dagster/partition_row_count" not in metadata
        else:
            assert metadata["dagster/partition_row_count"].value == figures[0]


def test_dashboard_table_materialization_has_a_preview(warehouse_url, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    result = run_assets(warehouse_url, [EVENT_SUCCESS], with_checks=False)
    metadata = result.asset_materializations_for_node("pwr_agg__event_success")[0].metadata
    rows = warehouse_conn.execute("SELECT count(*) FROM pwr_agg.event_success").fetchone()[0]
    assert metadata["dagster/row_count"].value == rows
    preview = metadata["preview"].value
    assert preview.splitlines()[0].startswith("| event_id | name |")
    assert len(preview.splitlines()) == 2 + min(rows, 10)


def test_every_table_asset_links_its_sql_file() -> None:
    graph = build_definitions().resolve_asset_graph()
    node = graph.get(MEMBER_VOICE_DAILY)
    references = node.metadata["dagster/code_references"].code_references
    assert [r.file_path for r in references] == [
        str(sql_path("member_voice_daily")),
        str(sql_path("stale_aggregate_days")),
    ]
    for key in graph.materializable_asset_keys:
        if key.path[0] in ("pwr_core", "pwr_agg"):
            refs = graph.get(key).metadata["dagster/code_references"].code_references
            assert all(sql_path(key.path[-1]).parent == type(sql_path(""))(r.file_path).parent for r in refs)


def test_dashboard_tables_carry_column_lineage() -> None:
    graph = build_definitions().resolve_asset_graph()
    lineage = graph.get(EVENT_SUCCESS).metadata["dagster/column_lineage"].deps_by_column
    by_column = {
        c: {(d.asset_key.to_user_string(), d.column_name) for d in deps} for c, deps in lineage.items()
    }
    assert by_column["total_voice_seconds"] == {("pwr_core/event_attendance", "total_voice_seconds")}
    assert by_column["name"] == {("pwr_core/events", "name")}
    assert by_column["on_time_attendees"] == {
        ("pwr_core/event_attendance", "joined_on_time"),
        ("pwr_core/event_attendance", "member_id"),
    }
