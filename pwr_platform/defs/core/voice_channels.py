"""``pwr_core/voice_channels``: each voice channel's newest name, so dashboards show ``#general``."""

from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field

from pwr_platform.defs.keys import CHANNEL_EVENTS, VOICE_CHANNELS, VOICE_EVENTS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import materialized_table_metadata, table_metadata
from pwr_platform.transforms.voice_channels import refresh_voice_channels

COLUMNS = [
    ("discord_channel_id", "bigint"),
    ("discord_guild_id", "bigint"),
    ("channel_name", "text"),
    ("name_seen_ts", "timestamptz"),
    ("channel_label", "text"),
]


class VoiceChannelsConfig(Config):
    full_rebuild: bool = Field(
        default=False,
        description="Rebuild every channel's name from all raw voice events and channel records.",
    )


@asset(
    key=VOICE_CHANNELS,
    deps=[VOICE_EVENTS, CHANNEL_EVENTS],
    metadata=table_metadata("pwr_core.voice_channels", COLUMNS, sql=["voice_channels"]),
    description=(
        "One row per voice channel the collector has named: its newest name by event time and a "
        "label unique in the warehouse (#name, or #name (id) when channels share a name). "
        "Names come from voice payloads and from the collector's channel records (each connect, "
        "creation and rename). Incremental: raw rows committed since the previous run are folded "
        "in (sql/voice_channels.sql); the first run rebuilds all."
    ),
)
def voice_channels(
    context: AssetExecutionContext, config: VoiceChannelsConfig, warehouse: WarehouseResource
) -> MaterializeResult:
    with warehouse.connect() as conn:
        result = refresh_voice_channels(conn, full=config.full_rebuild, log=context.log.info)
        standard = materialized_table_metadata(conn, "pwr_core.voice_channels")
    return MaterializeResult(metadata={**standard, **result.as_metadata()})
