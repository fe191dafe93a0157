"""``pwr_core/voice_sessions``: the incremental sessionizer (sql/voice_sessions.sql)."""

from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field

from pwr_platform.defs.keys import EVENTS, HEARTBEATS, MEMBERS, VOICE_EVENTS, VOICE_SESSIONS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import table_metadata
from pwr_platform.settings import get_settings
from pwr_platform.transforms.sessionizer import refresh_voice_sessions

COLUMNS = [
    ("session_id", "bigint"),
    ("member_id", "bigint"),
    ("discord_guild_id", "bigint"),
    ("discord_channel_id", "bigint"),
    ("session_start_ts", "timestamptz"),
    ("session_end_ts", "timestamptz"),
    ("duration_seconds", "integer"),
    ("is_completed", "boolean"),
    ("close_reason", "text"),
]


class SessionizerConfig(Config):
    full_rebuild: bool = Field(
        default=False, description="Rebuild every session from raw instead of incrementally."
    )


@asset(
    key=VOICE_SESSIONS,
    # events: its channels and windows tell which events' attendance the changed sessions touch
    # (the run stamps their changed_xid, the signal the attendance sensor reads)
    deps=[VOICE_EVENTS, HEARTBEATS, MEMBERS, EVENTS],
    metadata=table_metadata(
        "pwr_core.voice_sessions",
        COLUMNS,
        sql=["voice_sessions"],
        also_writes=["pwr_core.collector_gaps", "pwr_core.events"],
    ),
    description=(
        "Continuous stays of one member in one voice channel (ARCHITECTURE.md rules 1–5). Incremental: "
        "only users with raw events committed since the previous run are recomputed, from their last "
        "event before the earliest new one; sessions end at the next event, at PWR_MAX_SESSION_HOURS "
        "(timeout) or at a collector gap. One transaction per run; a full rebuild builds slices of users in "
        "PWR_REBUILD_CONNECTIONS connections at once and swaps them in as the table's partitions in that "
        "transaction. Driven every minute by the "
        "core_refresh_sensor when new raw data arrived; materialize with full_rebuild=true to rebuild."
    ),
)
def voice_sessions(
    context: AssetExecutionContext, config: SessionizerConfig, warehouse: WarehouseResource
) -> MaterializeResult:
    settings = get_settings()
    with warehouse.connect() as conn:
        result = refresh_voice_sessions(
            conn,
            max_session_hours=settings.max_session_hours,
            collector_gap_minutes=settings.collector_gap_minutes,
            full=config.full_rebuild,
            rebuild_connections=settings.rebuild_connections,
            log=context.log.info,
        )
    return MaterializeResult(metadata=result.as_metadata())
