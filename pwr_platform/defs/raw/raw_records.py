"""The other raw tables the core SQL reads, observed (not materialized) by Dagster.

Member records, scheduled-event records, heartbeats, /event commands and channel records come from the collector bot; manual events
and completions from `pwr events import` / `pwr events complete`. Each is an observable source so
the graph shows where pwr_core comes from (raw → core → aggregates → dashboards), and each is
observed in the core refresh run (one step and one query for all of them): every raw table has an
inserting-transaction column (``ingest_xid``, indexed), whose maximum changes exactly on new rows,
so it is the data version; the row count is the planner's estimate (an exact count would scan).
"""

from dagster import AssetSpec, DataVersion, ObserveResult, multi_observable_source_asset

from pwr_platform.defs.keys import (
    CHANNEL_EVENTS,
    EVENT_COMMANDS,
    EVENT_COMPLETIONS,
    HEARTBEATS,
    MANUAL_EVENTS,
    MEMBER_EVENTS,
    SCHEDULED_EVENTS,
)
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import table_metadata

DESCRIPTIONS = {
    MEMBER_EVENTS: "Guild member joins, leaves, name changes and sync snapshots, as the collector saw them.",
    SCHEDULED_EVENTS: "Every observed state of a Discord scheduled event (create, each update, delete).",
    HEARTBEATS: "Written every minute while the collector is connected; a gap shows where it was down.",
    MANUAL_EVENTS: "Events run without Discord's scheduled-event feature, as last imported by `pwr events import`.",
    EVENT_COMPLETIONS: "Actual ends stamped by hand (`pwr events complete`); they win over the source's own end.",
    EVENT_COMMANDS: "/event start and /event end as run by organizers in Discord (one row per interaction).",
    CHANNEL_EVENTS: "Voice and stage channel names: at each collector connect, and when a channel is created or renamed.",
}


def table_of(key) -> str:
    return ".".join(key.path)


@multi_observable_source_asset(
    specs=[
        AssetSpec(key, description=text, metadata=table_metadata(table_of(key)))
        for key, text in DESCRIPTIONS.items()
    ],
    name="raw_records",
)
def raw_records(warehouse: WarehouseResource):
    """Observed in every core refresh: index lookups and catalog reads only, cheap at any size."""
    with warehouse.connect() as conn:
        for key in DESCRIPTIONS:
            table = table_of(key)
            last_xid, rows_estimate = conn.execute(
                f"SELECT (SELECT max(ingest_xid)::text FROM {table}), "  # noqa: S608 (names from code)
                "(SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass)",
                (table,),
            ).fetchone()
            yield ObserveResult(
                asset_key=key,
                data_version=DataVersion(str(last_xid or 0)),
                metadata={"row_count_estimate": rows_estimate},
            )
