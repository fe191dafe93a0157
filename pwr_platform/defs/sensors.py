"""The core refresh and attendance sensors (discovered with everything else under ``defs/``)."""

from datetime import datetime

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

from pwr_platform.defs.keys import EVENT_ATTENDANCE
from pwr_platform.defs.partitions import RANGE_END_TAG, RANGE_START_TAG, event_partitions
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.run_status import ACTIVE
from pwr_platform.defs.schedules import core_refresh_job, live_refresh_job
from pwr_platform.settings import get_settings
from pwr_platform.transforms.watermark import EMPTY_SNAPSHOT, foreign_reason
from pwr_platform.warehouse.sql_runner import sql_params, sql_statements

# More events changed than this in one tick: one catch-up run over all partitions.
CATCH_UP_THRESHOLD = 5


# How often the core refresh sensor asks the warehouse. A leave waits on average half of this
# for the next tick, plus the run (start-up and SQL, 20-40 s on a busy 2-core machine). Each run is
# a Python process start (~4 CPU-s, issue 16): at 90 s the stack under 1 event/s measured 13.9 %
# of a core with the median leave → voice_sessions at 44 s; 120 s trades 10-20 s of median
# freshness (measured 55-66 s, target 90 s) for a quarter fewer runs.
CORE_REFRESH_INTERVAL_SECONDS = 120


@sensor(
    jobs=[core_refresh_job, live_refresh_job],
    minimum_interval_seconds=CORE_REFRESH_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Every 2 minutes: when raw voice events, gap-relevant heartbeats, member records, scheduled-"
        "event records or channel records arrived since the last core refresh, one run of members → voice_sessions → "
        "events → today's member_voice_daily and voice_heatmap → member_trend (live_refresh_job; "
        "unless a refresh is still running; its successor catches up on everything)."
    ),
)
def core_refresh_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource):
    for job in (live_refresh_job, core_refresh_job):
        running = context.instance.get_runs(RunsFilter(job_name=job.name, statuses=ACTIVE), limit=1)
        if running:
            return SkipReason(f"core refresh {running[0].run_id} still running")
    with warehouse.connect() as conn:
        row = conn.execute(
            sql_statements("core_sensors")["core_inputs_pending"],
            sql_params(),
        ).fetchone()
    pending = [
        name
        for name, flag in zip(
            ("voice", "heartbeats", "member_records", "scheduled_events", "channel_records"), row, strict=True
        )
        if flag
    ]
    if not pending:
        return SkipReason("no new raw data since the last core refresh")
    # today in PWR_TIMEZONE: the daily partition a session finishing now lands in (a session
    # across midnight also marks yesterday, which the late-data sensor requests)
    settings = get_settings()
    today = datetime.now(settings.tz).date()
    tags = {"pwr/trigger": ",".join(pending)}
    if today < settings.partitions_start:  # no daily partition yet: the core tables alone
        return RunRequest(job_name=core_refresh_job.name, tags=tags)
    return RunRequest(job_name=live_refresh_job.name, partition_key=today.isoformat(), tags=tags)


# Run tags of the attendance runs the sensor requests: which event (or a catch-up over all), and
# which attempt, so a failed run is retried a bounded number of times.
ATTENDANCE_TAG = "pwr/asset"
EVENT_TAG = "pwr/event_id"
ATTEMPT_TAG = "pwr/attempt"
MAX_ATTEMPTS = 3
# How many of the newest attendance runs are read to find the failed ones (a failure older than
# this many runs was followed by a catch-up or a newer run of that event anyway).
RECENT_RUNS = 200


def encode_cursor(cluster: str, snapshot: str) -> str:
    return f"{cluster}/{snapshot}"


def decode_cursor(cursor: str | None) -> tuple[str | None, str]:
    """(cluster, snapshot) of a cursor; a bare snapshot (written before clusters were recorded)
    has no cluster."""
    if not cursor:
        return None, EMPTY_SNAPSHOT
    cluster, _, snapshot = cursor.rpartition("/")
    return cluster or None, snapshot


def _attendance_changes(warehouse: WarehouseResource, snapshot: str) -> tuple[str, str, list, list]:
    with warehouse.connect() as conn:
        return conn.execute(
            sql_statements("core_sensors")["attendance_changes"], {"cursor": snapshot}
        ).fetchone()


def _request(run_key: str, attempt: int, **kwargs) -> RunRequest:
    tags = {ATTENDANCE_TAG: "event_attendance", ATTEMPT_TAG: str(attempt), **kwargs.pop("tags", {})}
    return RunRequest(run_key=run_key, asset_selection=[EVENT_ATTENDANCE], tags=tags, **kwargs)


def _catch_up(run_key: str, first: str, last: str, attempt: int, changed: int) -> RunRequest:
    return _request(
        run_key,
        attempt,
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last, "pwr/changed_events": str(changed)},
    )


def _single(run_key: str, event_id: str, attempt: int) -> RunRequest:
    return _request(run_key, attempt, partition_key=event_id, tags={EVENT_TAG: event_id})


def retries_of_failed_runs(
    context: SensorEvaluationContext, registered: list[str], changed_now: set[str]
) -> list[RunRequest]:
    """Failed attendance runs are retried: for every event whose newest run FAILED (no newer run
    of it has started or succeeded since), one new run, keyed by the failed run so it is requested
    once per failure, at most MAX_ATTEMPTS attempts in a row; events that changed again this tick
    get their normal run instead."""
    runs = context.instance.get_runs(RunsFilter(tags={ATTENDANCE_TAG: "event_attendance"}), limit=RECENT_RUNS)
    position = {key: i for i, key in enumerate(registered)}
    decided: set[str] = set()
    requests = []
    for run in runs:  # newest first
        if EVENT_TAG in run.tags:
            covered = {run.tags[EVENT_TAG]}
        else:
            lo = position.get(run.tags.get(RANGE_START_TAG, ""), 0)
            hi = position.get(run.tags.get(RANGE_END_TAG, ""), len(registered) - 1)
            covered = set(registered[lo : hi + 1])
        pending = covered - decided - changed_now
        decided |= covered
        if not pending or run.status != DagsterRunStatus.FAILURE:
            continue
        attempt = int(run.tags.get(ATTEMPT_TAG, "1")) + 1
        if attempt > MAX_ATTEMPTS:
            context.log.error(
                f"attendance run {run.run_id} failed on attempt {attempt - 1} of {MAX_ATTEMPTS}; not retried "
                f"again until the event changes: {sorted(pending)[:20]}"
            )
            continue
        context.log.info(
            f"retrying failed attendance run {run.run_id} (attempt {attempt}): {sorted(pending)[:20]}"
        )
        key = f"event_attendance:retry:{run.run_id}"
        if EVENT_TAG in run.tags:
            requests.append(_single(key, run.tags[EVENT_TAG], attempt))
        else:
            requests.append(
                _catch_up(key, run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG], attempt, len(pending))
            )
    return requests


# Every 2 minutes: an event's attendance is read after the event, not while members are in voice.
@sensor(
    asset_selection=[EVENT_ATTENDANCE],
    minimum_interval_seconds=120,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Adds an attendance partition for every new event and requests it when the event is completed, "
        "and again whenever its times, channels or the sessions in its window change; retries a failed "
        "attendance run (up to 3 attempts). The cursor is the warehouse snapshot of the previous tick "
        "(with the cluster it was taken on), so nothing committed between ticks or during downtime is "
        "missed, and a cursor from before a restore onto a new server starts over instead of freezing."
    ),
)
def event_attendance_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource) -> SensorResult:
    cursor_cluster, cursor = decode_cursor(context.cursor)
    snapshot, cluster, event_ids, changed = _attendance_changes(warehouse, cursor)
    reason = foreign_reason(cursor, cursor_cluster, snapshot, cluster)
    if reason:
        context.log.warning(
            f"attendance sensor cursor ignored because {reason}; every completed event is requested again"
        )
        snapshot, cluster, event_ids, changed = _attendance_changes(warehouse, EMPTY_SNAPSHOT)
    registered = list(context.instance.get_dynamic_partitions(event_partitions.name))
    known = set(registered)
    new_partitions = [e for e in event_ids if e not in known]
    changed_events = [entry.split(":") for entry in changed]
    ordered = registered + new_partitions
    if len(changed_events) > CATCH_UP_THRESHOLD:
        # After downtime, a first start or a bulk import, many events change at once: one run
        # over every partition (the asset replaces them with two set-based statements) instead
        # of one run process per event. Re-doing an unchanged event gives the same rows.
        run_requests = [
            _catch_up(
                f"event_attendance:catch-up:{snapshot}", ordered[0], ordered[-1], 1, len(changed_events)
            )
        ]
        changed_now = set(ordered)
    else:
        run_requests = [
            _single(f"event_attendance:{event_id}:{changed_xid}", event_id, 1)
            for event_id, changed_xid in changed_events
        ]
        changed_now = {event_id for event_id, _ in changed_events}
    run_requests += retries_of_failed_runs(context, registered, changed_now)
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[event_partitions.build_add_request(new_partitions)]
        if new_partitions
        else [],
        cursor=encode_cursor(cluster, snapshot),
    )
