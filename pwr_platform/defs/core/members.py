"""``pwr_core/members``: one row per Discord user seen in voice, member records or as an event host."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from pwr_platform.defs.keys import MANUAL_EVENTS, MEMBER_EVENTS, MEMBERS, SCHEDULED_EVENTS, VOICE_EVENTS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import materialized_table_metadata, table_metadata
from pwr_platform.transforms.members import refresh_members

COLUMNS = [
    ("member_id", "bigint"),
    ("discord_user_id", "bigint"),
    ("first_seen_ts", "timestamptz"),
    ("last_seen_ts", "timestamptz"),
    ("is_active", "boolean"),
    ("display_name", "text"),
    ("username", "text"),
    ("join_date", "timestamptz"),
    ("leave_date", "timestamptz"),
]


@asset(
    key=MEMBERS,
    deps=[VOICE_EVENTS, MEMBER_EVENTS, SCHEDULED_EVENTS, MANUAL_EVENTS],
    metadata=table_metadata("pwr_core.members", COLUMNS, sql=["members"]),
    description=(
        "One row per Discord user seen in a stored raw voice event, a collector member record or as "
        "an event host. Incremental: users with raw rows committed since the previous run are "
        "recomputed from raw (sql/members.sql); the first run rebuilds all."
    ),
)
def members(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    with warehouse.connect() as conn:
        result = refresh_members(conn, log=context.log.info)
        standard = materialized_table_metadata(conn, "pwr_core.members")
    return MaterializeResult(metadata={**standard, **result.as_metadata()})
