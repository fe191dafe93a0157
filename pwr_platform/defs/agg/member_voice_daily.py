"""pwr_agg/member_voice_daily: voice sessions and seconds per member per local day."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, asset

from pwr_platform.defs.agg.windows import materialize_window
from pwr_platform.defs.keys import MEMBER_VOICE_DAILY, VOICE_SESSIONS
from pwr_platform.defs.partitions import DAILY_PARTITIONS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import table_metadata


@asset(
    key=MEMBER_VOICE_DAILY,
    deps=[VOICE_SESSIONS],
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "Completed voice sessions started and voice seconds per member per day (PWR_TIMEZONE). "
        "Sessions across midnight are split; each partition (or a backfill range, in one run) is "
        "replaced atomically. SQL: sql/member_voice_daily.sql."
    ),
    metadata=table_metadata(
        "pwr_agg.member_voice_daily",
        [
            ("activity_date", "date"),
            ("member_id", "bigint"),
            ("total_sessions", "integer"),
            ("total_voice_seconds", "bigint"),
        ],
        sql=["member_voice_daily", "stale_aggregate_days"],
    ),
)
def member_voice_daily(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """Replace the run's days with the day pieces of the completed sessions touching them."""
    return materialize_window(context, warehouse, "member_voice_daily")
