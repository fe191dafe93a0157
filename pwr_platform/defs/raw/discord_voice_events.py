"""``pwr_raw/discord_voice_events``: the collector's voice stream, observed (not materialized) by Dagster."""

from dagster import AssetSpec, DataVersion, ObserveResult, multi_observable_source_asset

from pwr_platform.defs.keys import VOICE_EVENTS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import table_metadata

COLUMNS = [
    ("id", "bigint", "Storage order (handed out before commit: not a watermark)."),
    ("discord_user_id", "bigint", "Discord user."),
    ("discord_guild_id", "bigint", "Discord guild (server)."),
    ("discord_channel_id", "bigint", "Voice channel (for move: the new one; for leave: the one left)."),
    ("event_type", "text", "join | leave | move."),
    ("event_ts", "timestamptz", "When it happened (UTC)."),
    ("raw_payload", "jsonb", "The source record (bot payload or log line)."),
    ("ingested_at", "timestamptz", "When the writer stored it."),
    ("ingest_xid", "xid8", "Inserting transaction: how incremental transforms know what is new."),
]


# multi_observable_source_asset (one spec) rather than observable_source_asset: the latter goes
# through a Dagster code path that emits a deprecation warning in 1.13, and cannot take kinds.
@multi_observable_source_asset(
    specs=[
        AssetSpec(
            VOICE_EVENTS,
            group_name="pwr_raw",
            kinds={"postgres", "sql"},
            description=(
                "One row per Discord voice join, leave or move, written by the collector bot, `pwr ingest` "
                "or the simulator (idempotent on the natural key guild, user, instant, type, channel). "
                "Observing it records the row count and the newest event time."
            ),
            metadata=table_metadata("pwr_raw.discord_voice_events", COLUMNS),
        )
    ],
    name="discord_voice_events",
)
def discord_voice_events(warehouse: WarehouseResource):
    with warehouse.connect() as conn:
        rows, newest = conn.execute(
            "SELECT count(*), max(event_ts) FROM pwr_raw.discord_voice_events"
        ).fetchone()
    yield ObserveResult(
        asset_key=VOICE_EVENTS,
        data_version=DataVersion(f"{rows}:{newest.isoformat() if newest else '-'}"),
        metadata={"row_count": rows, "newest_event_ts": newest.isoformat() if newest else "none"},
    )
