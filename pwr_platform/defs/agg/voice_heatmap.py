"""pwr_agg/voice_heatmap: voice hours by ISO weekday × hour of day, for the dashboards.

Summing millions of sessions per dashboard query would be slow, so the asset keeps per-day
hourly totals (``pwr_agg.voice_heatmap_hourly``), partitioned by day like member_voice_daily and
refreshed with it; the view ``pwr_agg.voice_heatmap`` folds ~17,500 rows (2 years) into 168.
"""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, asset

from pwr_platform.defs.agg.windows import materialize_window
from pwr_platform.defs.keys import VOICE_HEATMAP, VOICE_SESSIONS
from pwr_platform.defs.partitions import DAILY_PARTITIONS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import table_metadata


@asset(
    key=VOICE_HEATMAP,
    deps=[VOICE_SESSIONS],
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "Voice hours per ISO weekday (1 = Monday) and hour of day in PWR_TIMEZONE: the view "
        "pwr_agg.voice_heatmap over per-day hourly totals in pwr_agg.voice_heatmap_hourly, "
        "which each daily partition replaces. SQL: sql/voice_heatmap.sql."
    ),
    metadata=table_metadata(
        "pwr_agg.voice_heatmap",
        [
            ("weekday", "integer"),
            ("weekday_name", "text"),
            ("hour_of_day", "integer"),
            ("voice_hours", "numeric"),
        ],
        sql=["voice_heatmap", "stale_aggregate_days"],
        also_writes=["pwr_agg.voice_heatmap_hourly"],
    ),
)
def voice_heatmap(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """Replace the run's days of hourly voice totals."""
    return materialize_window(context, warehouse, "voice_heatmap")
