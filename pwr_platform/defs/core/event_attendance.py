"""``pwr_core/event_attendance``: one partition per event, requested by the attendance sensor."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, asset

from pwr_platform.defs.keys import EVENT_ATTENDANCE, EVENTS, VOICE_SESSIONS
from pwr_platform.defs.partitions import event_partitions
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import materialized_table_metadata, table_metadata
from pwr_platform.settings import get_settings
from pwr_platform.transforms.attendance import refresh_attendance_many

COLUMNS = [
    ("event_id", "bigint"),
    ("member_id", "bigint"),
    ("first_join_ts", "timestamptz"),
    ("last_leave_ts", "timestamptz"),
    ("total_voice_seconds", "integer"),
    ("joined_on_time", "boolean"),
]


@asset(
    key=EVENT_ATTENDANCE,
    deps=[EVENTS, VOICE_SESSIONS],
    partitions_def=event_partitions,
    # A backfill (or `pwr materialize`) of many events is one run with two set-based statements.
    backfill_policy=BackfillPolicy.single_run(),
    metadata=table_metadata("pwr_core.event_attendance", COLUMNS, sql=["event_attendance"]),
    description=(
        "Who attended each completed event, when and for how long: sessions in the event's channels "
        "overlapping its window (actual times when both known, else scheduled). One dynamic partition "
        "per event_id; the event_attendance_sensor requests it when the event completes and again "
        "whenever its times, channels or the sessions in its window change."
    ),
)
def event_attendance(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    settings = get_settings()
    event_ids = [int(key) for key in context.partition_keys]
    with warehouse.connect() as conn:
        figures = refresh_attendance_many(
            conn,
            event_ids,
            max_session_hours=settings.max_session_hours,
            on_time_grace_minutes=settings.on_time_grace_minutes,
        )
        standard = materialized_table_metadata(conn, "pwr_core.event_attendance")
        if len(event_ids) == 1:  # a range run's metadata lands on each of its partitions
            standard["dagster/partition_row_count"] = conn.execute(
                "SELECT count(*) FROM pwr_core.event_attendance WHERE event_id = %s", (event_ids[0],)
            ).fetchone()[0]
    if figures["skipped"]:
        context.log.warning(
            f"skipped {len(figures['skipped'])} partition(s) whose event this warehouse does not have "
            f"(another warehouse on the same Dagster storage, an older backup, or a removed event): "
            f"{figures['skipped'][:50]}"
        )
    not_completed = [
        f"{e['event_id']} ({e['status']})" for e in figures["events"] if e["status"] != "completed"
    ]
    if not_completed:
        context.log.info(f"not completed, so no attendance rows: {', '.join(not_completed)}")
    if len(event_ids) == 1 and figures["events"]:
        return MaterializeResult(metadata={**standard, **figures["events"][0]})
    completed = sum(e["status"] == "completed" for e in figures["events"])
    return MaterializeResult(
        metadata={
            **standard,
            "events": len(event_ids),
            "completed_events": completed,
            "attendees": figures["attendees"],
            "rows_replaced": figures["rows_replaced"],
            "skipped_events_not_in_warehouse": len(figures["skipped"]),
        }
    )
