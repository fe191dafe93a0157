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
    ("event_id", "bigint", "Warehouse key; also the event_attendance partition key."),
    ("external_event_id", "text", "'discord:<id>' or the imported id (unique)."),
    ("name", "text", "Latest name."),
    ("description", "text", "Latest description."),
    ("event_type", "text", "scrim / inhouse / meeting …"),
    ("scheduled_start_ts", "timestamptz", "Latest scheduled start."),
    ("scheduled_end_ts", "timestamptz", "Latest scheduled end."),
    ("actual_start_ts", "timestamptz", "First seen active."),
    ("actual_end_ts", "timestamptz", "First seen completed, or stamped by `pwr events complete`."),
    ("host_member_id", "bigint", "Creator / host (pwr_core.members)."),
    ("status", "text", "scheduled | active | completed | cancelled."),
    ("discord_guild_id", "bigint", "Guild (NULL for imported events without PWR_GUILD_ID)."),
    ("changed_xid", "xid8", "Transaction that last changed what attendance depends on."),
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
