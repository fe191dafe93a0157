"""Acceptance checks of the aggregates (issue 5, "Freshness and acceptance").

Each check runs a query from ``sql/checks/`` that returns the offending rows: none = pass, and a
failure names the rows at fault. Run together with its asset, a check covers exactly the days /
weeks / months that run wrote (its partition or backfill range, read from the run's tags), so the
hourly runs stay cheap; run on its own (from the UI) it covers everything the table holds.
(Partitioned asset checks would say the same natively but are a preview feature in Dagster 1.13.)
"""

from collections.abc import Sequence
from datetime import date
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    TimeWindowPartitionsDefinition,
    asset_check,
)

from pwr_platform.defs.keys import MEMBER_ENGAGEMENT_WEEKLY, MEMBER_MONTHLY_STATUS, MEMBER_VOICE_DAILY
from pwr_platform.defs.partitions import (
    DAILY_PARTITIONS,
    MONTHLY_PARTITIONS,
    RANGE_END_TAG,
    RANGE_START_TAG,
    WEEKLY_PARTITIONS,
)
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.warehouse.sql_runner import run_script, sql_params

SHOWN_PROBLEMS = 20
PARTITION_TAG = "dagster/partition"
# The column holding each aggregate's period: bounds of a whole-table check.
PERIOD_COLUMN = {
    MEMBER_VOICE_DAILY: ("pwr_agg.member_voice_daily", "activity_date"),
    MEMBER_ENGAGEMENT_WEEKLY: ("pwr_agg.member_engagement_weekly", "week_start_date"),
    MEMBER_MONTHLY_STATUS: ("pwr_agg.member_monthly_status", "month_start_date"),
}


def checked_window(
    context: AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    asset: AssetKey,
    partitions_def: TimeWindowPartitionsDefinition,
) -> tuple[date, date] | None:
    """Local dates [start, end) to check: the run's partitions, else every period in the table."""
    tags = context.run.tags
    first, last = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if first is None and tags.get(PARTITION_TAG):
        first = last = tags[PARTITION_TAG]
    if first is not None and last is not None:
        start = partitions_def.time_window_for_partition_key(first).start.date()
        end = partitions_def.time_window_for_partition_key(last).end.date()
        return start, end
    table, column = PERIOD_COLUMN[asset]
    with warehouse.connect() as conn:
        lo, hi = conn.execute(f"SELECT min({column}), max({column}) FROM {table}").fetchone()
    if lo is None:
        return None
    end = partitions_def.time_window_for_partition_key(hi.isoformat()).end.date()
    return lo, end


def _markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows[:SHOWN_PROBLEMS]]
    return "\n".join(lines)


def run_check(
    context: AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    window: tuple[date, date] | None,
    sql_name: str,
    what: str,
) -> AssetCheckResult:
    """Run ``sql/checks/<sql_name>.sql`` over ``window``; pass when it returns no rows."""
    if window is None:
        return AssetCheckResult(passed=True, description=f"{what}: the table is empty.")
    start, end = window
    with warehouse.connect() as conn:
        problems = run_script(conn, f"checks/{sql_name}", sql_params(start, end))
    metadata: dict[str, Any] = {
        "window": f"[{start}, {end})",
        "problems": len(problems),
    }
    if problems:
        metadata["first_problems"] = MetadataValue.md(_markdown_table(problems))
        context.log.error(f"{what}: {len(problems)} problem rows in [{start}, {end}), e.g. {problems[:3]}")
    return AssetCheckResult(
        passed=not problems,
        severity=AssetCheckSeverity.ERROR,
        description=what if not problems else f"{what}: {len(problems)} rows do not.",
        metadata=metadata,
    )


def _check(asset: AssetKey, partitions_def, name: str, sql_name: str, what: str):
    @asset_check(asset=asset, name=name, description=what, blocking=False)
    def _run(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        window = checked_window(context, warehouse, asset, partitions_def)
        return run_check(context, warehouse, window, sql_name, what)

    return _run


daily_totals_match_sessions = _check(
    MEMBER_VOICE_DAILY,
    DAILY_PARTITIONS,
    "daily_totals_match_sessions",
    "member_voice_daily_matches_sessions",
    "Each day's totals equal the seconds of the completed sessions falling on that day",
)
daily_rows_for_known_members = _check(
    MEMBER_VOICE_DAILY,
    DAILY_PARTITIONS,
    "no_rows_for_unknown_members",
    "member_voice_daily_known_members",
    "Every daily row belongs to a known member with a session on that day",
)
weekly_totals_equal_sum_of_days = _check(
    MEMBER_ENGAGEMENT_WEEKLY,
    WEEKLY_PARTITIONS,
    "weekly_totals_equal_sum_of_days",
    "member_engagement_weekly_matches_daily",
    "Each week's voice seconds equal the sum of its days, per member",
)
weekly_rows_for_known_members = _check(
    MEMBER_ENGAGEMENT_WEEKLY,
    WEEKLY_PARTITIONS,
    "no_rows_for_unknown_members",
    "member_engagement_weekly_known_members",
    "Every weekly row belongs to a known member with voice or an attended event that week",
)
monthly_covers_eligible_members = _check(
    MEMBER_MONTHLY_STATUS,
    MONTHLY_PARTITIONS,
    "covers_every_eligible_member",
    "member_monthly_status_covers_members",
    "Each month has a row for every eligible member and for no one else (no unknown member)",
)
