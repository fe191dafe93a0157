"""pwr_agg/member_engagement_weekly: voice seconds and events attended per member per ISO week."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, asset

from pwr_platform.defs.agg.windows import materialize_window
from pwr_platform.defs.keys import (
    ALL_EVENT_ATTENDANCE,
    EVENTS,
    MEMBER_ENGAGEMENT_WEEKLY,
    MEMBER_VOICE_DAILY,
)
from pwr_platform.defs.partitions import WEEKLY_PARTITIONS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import table_metadata


@asset(
    key=MEMBER_ENGAGEMENT_WEEKLY,
    deps=[MEMBER_VOICE_DAILY, ALL_EVENT_ATTENDANCE, EVENTS],
    partitions_def=WEEKLY_PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "Per ISO week (Monday start, PWR_TIMEZONE) and member: voice seconds = sum of the week's "
        "daily rows; events attended and distinct event types of completed events whose window "
        "starts in the week. SQL: sql/member_engagement_weekly.sql."
    ),
    metadata=table_metadata(
        "pwr_agg.member_engagement_weekly",
        [
            ("week_start_date", "date"),
            ("member_id", "bigint"),
            ("total_voice_seconds", "bigint"),
            ("events_attended", "integer"),
            ("distinct_event_types", "integer"),
        ],
        sql=["member_engagement_weekly", "stale_aggregate_days"],
    ),
)
def member_engagement_weekly(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    """Replace the run's weeks from the daily rows and the attendance."""
    return materialize_window(context, warehouse, "member_engagement_weekly")
