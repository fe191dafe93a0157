"""``pwr_core/events``: Discord scheduled events and imported events (sql/events.sql)."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from pwr_platform.defs.keys import (
    EVENT_COMMANDS,
    EVENT_COMPLETIONS,
    EVENTS,
    MANUAL_EVENTS,
    MEMBERS,
    SCHEDULED_EVENTS,
)
from pwr_platform.defs.partitions import event_partitions
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import materialized_table_metadata, table_metadata
from pwr_platform.transforms.events import refresh_events

COLUMNS = [
    ("event_id", "bigint"),
    ("external_event_id", "text"),
    ("name", "text"),
    ("description", "text"),
    ("event_type", "text"),
    ("scheduled_start_ts", "timestamptz"),
    ("scheduled_end_ts", "timestamptz"),
    ("actual_start_ts", "timestamptz"),
    ("actual_end_ts", "timestamptz"),
    ("host_member_id", "bigint"),
    ("status", "text"),
    ("discord_guild_id", "bigint"),
    ("changed_xid", "xid8"),
]


@asset(
    key=EVENTS,
    deps=[MEMBERS, SCHEDULED_EVENTS, MANUAL_EVENTS, EVENT_COMPLETIONS, EVENT_COMMANDS],
    metadata=table_metadata(
        "pwr_core.events", COLUMNS, sql=["events"], also_writes=["pwr_core.event_channels"]
    ),
    description=(
        "Community events keyed by external_event_id, from the collector's Discord scheduled-event "
        "records (latest observation; first 'active' = actual start, first 'completed' = actual end) "
        "and from `pwr events import` / `pwr events complete`; channels in pwr_core.event_channels."
    ),
)
def events(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    with warehouse.connect() as conn:
        result = refresh_events(conn)
        event_ids = [
            str(r[0]) for r in conn.execute("SELECT event_id FROM pwr_core.events ORDER BY event_id")
        ]
        standard = materialized_table_metadata(conn, "pwr_core.events")
    # Every event gets its attendance partition as soon as it exists, so a backfill or
    # `pwr materialize` right after this run covers it (the attendance sensor adds them too).
    registered = set(context.instance.get_dynamic_partitions(event_partitions.name))
    new = [e for e in event_ids if e not in registered]
    if new:
        context.instance.add_dynamic_partitions(event_partitions.name, new)
    return MaterializeResult(
        metadata={**standard, **result.as_metadata(), "new_attendance_partitions": len(new)}
    )
