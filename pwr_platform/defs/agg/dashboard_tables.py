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
    key: AssetKey, deps: Sequence[AssetKey], description: str, columns: list[tuple[str, str]]
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
        ("cohort_month", "date"),
        ("months_since_join", "integer"),
        ("cohort_size", "integer"),
        ("active_members", "integer"),
        ("retention_rate", "numeric"),
    ],
)

member_trend = dashboard_table(
    MEMBER_TREND,
    [MEMBER_ENGAGEMENT_WEEKLY, MEMBER_VOICE_DAILY, MEMBERS],
    "Rising / falling members: voice hours and events in the last 4 full weeks vs the 4 before, "
    "relative to the data's newest day, with a trend label.",
    [
        ("member_id", "bigint"),
        ("display_name", "text"),
        ("recent_voice_hours", "numeric"),
        ("previous_voice_hours", "numeric"),
        ("recent_events", "integer"),
        ("previous_events", "integer"),
        ("voice_hours_change", "numeric"),
        ("trend_label", "text"),
        ("recent_weeks_start", "date"),
        ("recent_weeks_end", "date"),
    ],
)

event_success = dashboard_table(
    EVENT_SUCCESS,
    [EVENT_ATTENDANCE, EVENTS],
    "Event success per completed event: attendees, on-time share, average minutes per attendee.",
    [
        ("event_id", "bigint"),
        ("name", "text"),
        ("event_type", "text"),
        ("window_start_ts", "timestamptz"),
        ("attendees", "integer"),
        ("on_time_attendees", "integer"),
        ("late_attendees", "integer"),
        ("on_time_share", "numeric"),
        ("avg_minutes_per_attendee", "numeric"),
        ("total_voice_seconds", "bigint"),
    ],
)

event_type_success = dashboard_table(
    EVENT_TYPE_SUCCESS,
    [EVENT_SUCCESS],
    "Event success per event type (pooled over the type's completed events).",
    [
        ("event_type", "text"),
        ("events", "integer"),
        ("avg_attendees", "numeric"),
        ("on_time_share", "numeric"),
        ("avg_minutes_per_attendee", "numeric"),
    ],
)

event_rsvp = dashboard_table(
    EVENT_RSVP,
    [EVENT_ATTENDANCE, EVENTS, SCHEDULED_EVENTS],
    "Interested (Discord RSVP, from the raw scheduled-event records) vs attended, per completed "
    "Discord scheduled event.",
    [
        ("event_id", "bigint"),
        ("name", "text"),
        ("event_type", "text"),
        ("window_start_ts", "timestamptz"),
        ("interested", "integer"),
        ("attendees", "integer"),
        ("conversion_rate", "numeric"),
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
        ("member_id", "bigint"),
        ("week_start_date", "date"),
        ("discord_channel_id", "bigint"),
        ("hour_of_day", "smallint"),
        ("sessions", "integer"),
        ("voice_seconds", "bigint"),
    ],
)
