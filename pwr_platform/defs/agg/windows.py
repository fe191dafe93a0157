"""Materialize one time window of a partitioned aggregate with its SQL file.

Dagster hands the asset the time window of its run: one partition, or a whole range when a
backfill runs as a single run (``BackfillPolicy.single_run()``); the SQL replaces exactly that
window in one transaction, so both give the same table. In that same transaction the run consumes
the sessionizer's "stale day" marks inside its window (``sql/stale_aggregate_days.sql``): read
before the window is rebuilt, deleted after, so a mark made while the run reads stays.
"""

from __future__ import annotations

from dagster import AssetExecutionContext, MaterializeResult

from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import materialized_table_metadata
from pwr_platform.warehouse.sql_runner import run_script, sql_params, sql_statements, window_dates

# Where each aggregate's partitions are stored, and their period column (row counts per window).
STORED_IN = {
    "member_voice_daily": ("pwr_agg.member_voice_daily", "activity_date"),
    "voice_heatmap": ("pwr_agg.voice_heatmap_hourly", "activity_date"),
    "member_engagement_weekly": ("pwr_agg.member_engagement_weekly", "week_start_date"),
    "member_monthly_status": ("pwr_agg.member_monthly_status", "month_start_date"),
}


def materialize_window(
    context: AssetExecutionContext, warehouse: WarehouseResource, sql_name: str
) -> MaterializeResult:
    start, end = window_dates(*context.partition_time_window)
    stale = sql_statements("stale_aggregate_days")
    window = {"aggregate": sql_name, "start_date": start, "end_date": end}
    with warehouse.connect() as conn:
        seen = conn.execute(stale["seen_in_window"], window).fetchall()
        summary = run_script(conn, sql_name, sql_params(start, end))
        consumed = conn.execute(
            stale["consume"], {**window, "days": [r[0] for r in seen], "xids": [r[1] for r in seen]}
        ).rowcount
        standard = materialized_table_metadata(
            conn, f"pwr_agg.{sql_name}", partition_filter=(*STORED_IN[sql_name], start, end)
        )
    figures = summary[0] if summary else {}
    context.log.info(f"{sql_name}: replaced [{start}, {end}): {figures}")
    return MaterializeResult(
        metadata={
            **standard,
            "window_start": start.isoformat(),
            "window_end_exclusive": end.isoformat(),
            "partitions": len(context.partition_keys),
            "stale_day_marks_consumed": consumed,
            **{k: int(v) for k, v in figures.items()},
        }
    )
