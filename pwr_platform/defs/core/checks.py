"""Asset checks of the core layer (sql/core_checks.sql): the table rules as acceptance criteria.

Blocking where a downstream asset would be wrong: a missing member, overlapping or mis-sized
sessions or an open session past the cap would flow straight into daily / weekly / monthly
figures and attendance, so those checks stop the run before downstream assets materialize.
"""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, asset_check

from pwr_platform.defs.keys import EVENT_ATTENDANCE, MEMBERS, VOICE_SESSIONS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.transforms.sql_runner import sql_params, sql_statements


def _count(warehouse: WarehouseResource, name: str) -> int:
    params = sql_params()
    with warehouse.connect() as conn:
        conn.execute("SET LOCAL jit = off")
        return conn.execute(sql_statements("core_checks")[name], params).fetchone()[0]


def _zero(count: int, what: str) -> AssetCheckResult:
    return AssetCheckResult(passed=count == 0, metadata={"violations": count, "rule": what})


@asset_check(
    asset=MEMBERS, blocking=True, description="Every user in a raw voice event or member record is a member."
)
def every_raw_user_is_a_member(warehouse: WarehouseResource) -> AssetCheckResult:
    return _zero(_count(warehouse, "raw_users_missing_from_members"), "raw users missing from members")


@asset_check(
    asset=VOICE_SESSIONS, blocking=True, description="No member has overlapping sessions in a guild."
)
def no_overlapping_sessions(warehouse: WarehouseResource) -> AssetCheckResult:
    return _zero(_count(warehouse, "overlapping_sessions"), "sessions with a positive overlap")


@asset_check(
    asset=VOICE_SESSIONS,
    blocking=True,
    description="Completed sessions: duration_seconds = round(end − start), >= 0 and within PWR_MAX_SESSION_HOURS.",
)
def session_durations_are_consistent(warehouse: WarehouseResource) -> AssetCheckResult:
    return _zero(_count(warehouse, "bad_durations"), "sessions with a wrong duration")


@asset_check(
    asset=VOICE_SESSIONS,
    blocking=True,
    description="No session is still open although its guild's newest event is past start + PWR_MAX_SESSION_HOURS.",
)
def no_open_session_older_than_the_cap(warehouse: WarehouseResource) -> AssetCheckResult:
    return _zero(_count(warehouse, "stale_open_sessions"), "open sessions older than the cap")


@asset_check(
    asset=EVENT_ATTENDANCE,
    description="Every completed event has a materialized attendance partition (warns while one is pending).",
)
def every_completed_event_has_attendance(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
    with warehouse.connect() as conn:
        completed = [str(r[0]) for r in conn.execute(sql_statements("core_checks")["completed_event_ids"])]
    materialized = context.instance.get_materialized_partitions(EVENT_ATTENDANCE)
    missing = [key for key in completed if key not in materialized]
    return AssetCheckResult(
        passed=not missing,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "completed_events": len(completed),
            "missing_partitions": ", ".join(missing[:50]) or "none",
        },
    )


@asset_check(
    asset=EVENT_ATTENDANCE,
    blocking=True,
    description="Attendance seconds never exceed the event window (allowing per-piece rounding).",
)
def attendance_within_event_window(warehouse: WarehouseResource) -> AssetCheckResult:
    return _zero(_count(warehouse, "attendance_beyond_window"), "attendance rows longer than the window")
