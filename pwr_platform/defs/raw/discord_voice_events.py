"""``pwr_raw/discord_voice_events``: the collector's voice stream, observed (not materialized) by Dagster."""

from dagster import AssetSpec, DataVersion, ObserveResult, multi_observable_source_asset

from pwr_platform.defs.keys import VOICE_EVENTS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import table_metadata

COLUMNS = [
    ("id", "bigint"),
    ("discord_user_id", "bigint"),
    ("discord_guild_id", "bigint"),
    ("discord_channel_id", "bigint"),
    ("event_type", "text"),
    ("event_ts", "timestamptz"),
    ("raw_payload", "jsonb"),
    ("ingested_at", "timestamptz"),
    ("ingest_xid", "xid8"),
]


# multi_observable_source_asset (one spec) rather than observable_source_asset: the latter goes
# through a Dagster code path that emits a deprecation warning in 1.13, and cannot take kinds.
@multi_observable_source_asset(
    specs=[
        AssetSpec(
            VOICE_EVENTS,
            description=(
                "One row per Discord voice join, leave or move, written by the collector bot, `pwr ingest` "
                "or the simulator (idempotent on the natural key guild, user, instant, type, channel). "
                "Observing it records the newest event time and the (estimated) row count."
            ),
            metadata=table_metadata("pwr_raw.discord_voice_events", COLUMNS),
        )
    ],
    name="discord_voice_events",
)
def discord_voice_events(warehouse: WarehouseResource):
    """Observed in every core refresh, so it must stay cheap at any size: index lookups only, no scan."""
    with warehouse.connect() as conn:
        newest, last_xid, rows_estimate = conn.execute(OBSERVE_SQL).fetchone()
    yield ObserveResult(
        asset_key=VOICE_EVENTS,
        # a new row always has a newer inserting transaction: the version changes exactly on new data
        data_version=DataVersion(str(last_xid or 0)),
        metadata={
            "row_count_estimate": rows_estimate,
            "newest_event_ts": newest.isoformat() if newest else "none",
        },
    )


# Newest event over all guilds through the (guild, event_ts) index: a loose index scan visits each
# guild once (recursive CTE) and takes its max; the inserting-transaction index gives the version;
# the row count is the planner's estimate (pg_class), as an exact count would scan the table.
OBSERVE_SQL = """
WITH RECURSIVE guilds AS (
    SELECT min(discord_guild_id) AS guild_id FROM pwr_raw.discord_voice_events
    UNION ALL
    SELECT (SELECT min(discord_guild_id) FROM pwr_raw.discord_voice_events WHERE discord_guild_id > g.guild_id)
    FROM guilds g WHERE g.guild_id IS NOT NULL
)
SELECT (SELECT max((SELECT max(event_ts) FROM pwr_raw.discord_voice_events r WHERE r.discord_guild_id = g.guild_id))
        FROM guilds g WHERE g.guild_id IS NOT NULL),
       (SELECT max(ingest_xid)::text FROM pwr_raw.discord_voice_events),
       (SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'pwr_raw.discord_voice_events'::regclass)
"""
