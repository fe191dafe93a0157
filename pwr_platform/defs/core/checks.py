"""Asset checks of the core layer (sql/core_checks.sql): the table rules as acceptance criteria.

Blocking where a downstream asset would be wrong: a missing member, overlapping or mis-sized
sessions or an open session past the cap would flow straight into daily / weekly / monthly
figures and attendance, so those checks stop the run before downstream assets materialize.
"""

from functools import partial

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, asset_check

from pwr_platform.defs import violation_checks
from pwr_platform.defs.keys import EVENT_ATTENDANCE, MEMBERS, VOICE_SESSIONS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.warehouse.sql_runner import sql_statements

# blocking: a broken core rule would flow straight into the aggregates and attendance
zero_violations = partial(violation_checks.zero_violations, sql_file="core_checks", blocking=True)


every_raw_user_is_a_member = zero_violations(
    "every_raw_user_is_a_member",
    MEMBERS,
    "raw_users_missing_from_members",
    "raw users missing from members",
    "Every user in a raw voice event or member record is a member.",
)
no_overlapping_sessions = zero_violations(
    "no_overlapping_sessions",
    VOICE_SESSIONS,
    "overlapping_sessions",
    "sessions with a positive overlap",
    "No member has overlapping sessions in a guild.",
)
session_durations_are_consistent = zero_violations(
    "session_durations_are_consistent",
    VOICE_SESSIONS,
    "bad_durations",
    "sessions with a wrong duration",
    "Completed sessions: duration_seconds = round(end − start), >= 0 and within PWR_MAX_SESSION_HOURS.",
)
no_open_session_older_than_the_cap = zero_violations(
    "no_open_session_older_than_the_cap",
    VOICE_SESSIONS,
    "stale_open_sessions",
    "open sessions older than the cap",
    "No session is still open although its guild's newest event is past start + PWR_MAX_SESSION_HOURS.",
)
attendance_within_event_window = zero_violations(
    "attendance_within_event_window",
    EVENT_ATTENDANCE,
    "attendance_beyond_window",
    "attendance rows longer than the window",
    "Attendance seconds never exceed the event window (allowing per-piece rounding).",
)


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
