"""pwr_agg/member_monthly_status: active or not, per eligible member per month."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, asset

from pwr_platform.defs.agg.windows import materialize_window
from pwr_platform.defs.keys import (
    ALL_EVENT_ATTENDANCE,
    EVENTS,
    MEMBER_MONTHLY_STATUS,
    MEMBERS,
    VOICE_SESSIONS,
)
from pwr_platform.defs.partitions import MONTHLY_PARTITIONS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import table_metadata


@asset(
    key=MEMBER_MONTHLY_STATUS,
    deps=[MEMBERS, VOICE_SESSIONS, ALL_EVENT_ATTENDANCE, EVENTS],
    partitions_def=MONTHLY_PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "A row per month (PWR_TIMEZONE) for every member who had joined by its end and had not "
        "left before its start; was_active = a session overlapping the month or an attended "
        "event starting in it. SQL: sql/member_monthly_status.sql."
    ),
    metadata=table_metadata(
        "pwr_agg.member_monthly_status",
        [
            ("month_start_date", "date"),
            ("member_id", "bigint"),
            ("was_active", "boolean"),
        ],
        sql=["member_monthly_status", "stale_aggregate_days"],
    ),
)
def member_monthly_status(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """Replace the run's months: eligible members, active or not."""
    return materialize_window(context, warehouse, "member_monthly_status")
