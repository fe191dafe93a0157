"""Sensors of the code location (collected into Definitions by definitions.py)."""

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from pwr_platform.defs.agg.automation import AGG_SENSORS
from pwr_platform.defs.keys import EVENT_ATTENDANCE
from pwr_platform.defs.partitions import RANGE_END_TAG, RANGE_START_TAG, event_partitions
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.schedules import core_refresh_job
from pwr_platform.settings import get_settings
from pwr_platform.transforms.sqlfile import sql_statements
from pwr_platform.transforms.watermark import EMPTY_SNAPSHOT

# More events changed than this in one tick: one catch-up run over all partitions.
CATCH_UP_THRESHOLD = 5

ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


@sensor(
    job=core_refresh_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Every minute: when raw voice events, gap-relevant heartbeats, member records or scheduled-"
        "event records arrived since the last core refresh, run members → voice_sessions → events "
        "(unless a refresh is still running; its successor catches up on everything)."
    ),
)
def core_refresh_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource):
    running = context.instance.get_runs(RunsFilter(job_name=core_refresh_job.name, statuses=ACTIVE), limit=1)
    if running:
        return SkipReason(f"core refresh {running[0].run_id} still running")
    with warehouse.connect() as conn:
        row = conn.execute(
            sql_statements("core_sensors")["core_inputs_pending"],
            {"gap_minutes": get_settings().collector_gap_minutes},
        ).fetchone()
    pending = [
        name
        for name, flag in zip(("voice", "heartbeats", "member_records", "scheduled_events"), row, strict=True)
        if flag
    ]
    if not pending:
        return SkipReason("no new raw data since the last core refresh")
    return RunRequest(tags={"pwr/trigger": ",".join(pending)})


@sensor(
    asset_selection=[EVENT_ATTENDANCE],
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Adds an attendance partition for every new event and requests it when the event is completed, "
        "and again whenever its times, channels or the sessions in its window change. The cursor is "
        "the warehouse snapshot of the previous tick, so nothing committed between ticks or during "
        "downtime is missed."
    ),
)
def event_attendance_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource) -> SensorResult:
    cursor = context.cursor or EMPTY_SNAPSHOT
    with warehouse.connect() as conn:
        snapshot, event_ids, changed = conn.execute(
            sql_statements("core_sensors")["attendance_changes"], {"cursor": cursor}
        ).fetchone()
    registered = list(context.instance.get_dynamic_partitions(event_partitions.name))
    known = set(registered)
    new_partitions = [e for e in event_ids if e not in known]
    changed_events = [entry.split(":") for entry in changed]
    if len(changed_events) > CATCH_UP_THRESHOLD:
        # After downtime, a first start or a bulk import, many events change at once: one run
        # over every partition (the asset replaces them with two set-based statements) instead
        # of one run process per event. Re-doing an unchanged event gives the same rows.
        ordered = registered + new_partitions
        run_requests = [
            RunRequest(
                run_key=f"event_attendance:catch-up:{snapshot}",
                asset_selection=[EVENT_ATTENDANCE],
                tags={
                    RANGE_START_TAG: ordered[0],
                    RANGE_END_TAG: ordered[-1],
                    "pwr/changed_events": str(len(changed_events)),
                },
            )
        ]
    else:
        run_requests = [
            RunRequest(
                run_key=f"event_attendance:{event_id}:{changed_xid}",
                partition_key=event_id,
                asset_selection=[EVENT_ATTENDANCE],
                tags={"pwr/event_id": event_id},
            )
            for event_id, changed_xid in changed_events
        ]
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[event_partitions.build_add_request(new_partitions)]
        if new_partitions
        else [],
        cursor=snapshot,
    )


SENSORS: list = [core_refresh_sensor, event_attendance_sensor, *AGG_SENSORS]
