"""The dashboard tables: cohort retention, member trend, event success (per event and per type),
RSVP vs attendance per event, and members' voice habits (favourite channels and hours).

Each is a small table in pwr_agg that Superset reads directly (milliseconds at any size); its
asset replaces all rows with ``sql/<name>.sql`` in one transaction (readers see the old or the
new table, never half), after its inputs change (see ``conditions.py``).
"""

from collections.abc import Sequence

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, asset

from pwr_platform.defs.keys import (
    COHORT_RETENTION,
    EVENT_ATTENDANCE,
    EVENT_RSVP,
    EVENT_SUCCESS,
    EVENT_TYPE_SUCCESS,
    EVENTS,
    MEMBER_ENGAGEMENT_WEEKLY,
    MEMBER_MONTHLY_STATUS,
    MEMBER_TREND,
    MEMBER_VOICE_DAILY,
    MEMBER_VOICE_HABITS,
    MEMBERS,
    SCHEDULED_EVENTS,
    VOICE_SESSIONS,
)
from pwr_platform.defs.lineage import column_lineage
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import materialized_table_metadata, table_metadata
from pwr_platform.warehouse.sql_runner import run_script, sql_params


def dashboard_table(
    key: AssetKey, deps: Sequence[AssetKey], description: str, columns: list[tuple[str, str, str]]
) -> AssetsDefinition:
    name = key.path[-1]

    @asset(
        key=key,
        name=None,
        deps=list(deps),
        description=f"{description} SQL: sql/{name}.sql.",
        metadata={
            **table_metadata(f"pwr_agg.{name}", columns, sql=[name]),
            # the tables Superset reads: which upstream columns each of their columns comes from
            **({"dagster/column_lineage": lineage} if (lineage := column_lineage(name)) else {}),
        },
    )
    def _refresh(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        with warehouse.connect() as conn:
            summary = run_script(conn, name, sql_params())
            # a dashboard table is small (it is what Superset reads): a preview of it helps
            standard = materialized_table_metadata(conn, f"pwr_agg.{name}", preview_order="1")
        figures = {k: int(v) for k, v in (summary[0] if summary else {}).items()}
        context.log.info(f"{name}: {figures}")
        return MaterializeResult(metadata={**standard, **figures})

    return _refresh


cohort_retention = dashboard_table(
    COHORT_RETENTION,
    [MEMBER_MONTHLY_STATUS, MEMBERS],
    "Cohort retention: members by join month (PWR_TIMEZONE) and the share active N months later.",
    [
        ("cohort_month", "date", "Month the members joined."),
        ("months_since_join", "integer", "0 = the join month."),
        ("cohort_size", "integer", "Members who joined that month (leavers included)."),
        ("active_members", "integer", "Of them, active in that month."),
        ("retention_rate", "numeric", "active_members / cohort_size, 0..1."),
    ],
)

member_trend = dashboard_table(
    MEMBER_TREND,
    [MEMBER_ENGAGEMENT_WEEKLY, MEMBER_VOICE_DAILY, MEMBERS],
    "Rising / falling members: voice hours and events in the last 4 full weeks vs the 4 before, "
    "relative to the data's newest day, with a trend label.",
    [
        ("member_id", "bigint", "pwr_core.members.member_id."),
        ("display_name", "text", "Newest display name."),
        ("recent_voice_hours", "numeric", "Voice hours, last 4 full weeks."),
        ("previous_voice_hours", "numeric", "Voice hours, the 4 weeks before."),
        ("recent_events", "integer", "Events attended, last 4 full weeks."),
        ("previous_events", "integer", "Events attended, the 4 weeks before."),
        ("voice_hours_change", "numeric", "recent - previous voice hours."),
        ("trend_label", "text", "rising, falling, steady, new or inactive."),
        ("recent_weeks_start", "date", "First day of the recent 4 weeks."),
        ("recent_weeks_end", "date", "Last day (Sunday) of the recent 4 weeks."),
    ],
)

event_success = dashboard_table(
    EVENT_SUCCESS,
    [EVENT_ATTENDANCE, EVENTS],
    "Event success per completed event: attendees, on-time share, average minutes per attendee.",
    [
        ("event_id", "bigint", "pwr_core.events.event_id."),
        ("name", "text", "Event name."),
        ("event_type", "text", "Event type (may be empty)."),
        ("window_start_ts", "timestamptz", "Actual start when known, else scheduled start."),
        ("attendees", "integer", "Members who attended."),
        ("on_time_attendees", "integer", "Joined by scheduled start + grace."),
        ("late_attendees", "integer", "The others."),
        ("on_time_share", "numeric", "on_time_attendees / attendees, 0..1."),
        ("avg_minutes_per_attendee", "numeric", "Attended minutes inside the window per attendee."),
        ("total_voice_seconds", "bigint", "Attended seconds inside the window, all attendees."),
    ],
)

event_type_success = dashboard_table(
    EVENT_TYPE_SUCCESS,
    [EVENT_SUCCESS],
    "Event success per event type (pooled over the type's completed events).",
    [
        ("event_type", "text", "Event type; '(none)' for events without one."),
        ("events", "integer", "Completed events of this type."),
        ("avg_attendees", "numeric", "Mean attendees per event."),
        ("on_time_share", "numeric", "On-time attendees / attendees, 0..1."),
        ("avg_minutes_per_attendee", "numeric", "Attended minutes per attendee."),
    ],
)

event_rsvp = dashboard_table(
    EVENT_RSVP,
    [EVENT_ATTENDANCE, EVENTS, SCHEDULED_EVENTS],
    "Interested (Discord RSVP, from the raw scheduled-event records) vs attended, per completed "
    "Discord scheduled event.",
    [
        ("event_id", "bigint", "pwr_core.events.event_id."),
        ("name", "text", "Event name."),
        ("event_type", "text", "Event type (may be empty)."),
        ("window_start_ts", "timestamptz", "Actual start when known, else scheduled start."),
        ("interested", "integer", "Largest positive user_count observed; NULL when unknown."),
        ("attendees", "integer", "Members who attended."),
        ("conversion_rate", "numeric", "attendees / interested (can exceed 1)."),
    ],
)

# Its inputs are core tables, which trigger nothing (conditions.py): it refreshes nightly (and
# when missing). A full rewrite has about one row per session (4,351 rows for 4,728 sessions in
# the demo), so refreshing it after every hourly run would rewrite millions of rows an hour at
# scale, for favourites that move over weeks.
member_voice_habits = dashboard_table(
    MEMBER_VOICE_HABITS,
    [VOICE_SESSIONS],
    "Completed sessions per member, local week, channel and hour of day they started in "
    "(favourite channels and hours on Member Profile).",
    [
        ("member_id", "bigint", "pwr_core.members.member_id."),
        ("week_start_date", "date", "Monday of the local ISO week the sessions started in."),
        ("discord_channel_id", "bigint", "Voice channel."),
        ("hour_of_day", "smallint", "Local hour the sessions started in, 0-23."),
        ("sessions", "integer", "Completed sessions."),
        ("voice_seconds", "bigint", "Their stored durations, summed."),
    ],
)
