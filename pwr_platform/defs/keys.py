"""Every asset key of the graph, in one module: deps, selections, sensors and the CLI name them here
(no literal ``AssetKey([...])`` elsewhere). A table asset's key is its ``[schema, table]``; the
table keys are the shared contract: do not rename."""

from dagster import AllPartitionMapping, AssetDep, AssetKey


def _tables(schema: str, *names: str) -> tuple[AssetKey, ...]:
    return tuple(AssetKey([schema, name]) for name in names)


VOICE_EVENTS, *_raw_records = _tables(
    "pwr_raw",
    "discord_voice_events",
    "discord_member_events",
    "discord_scheduled_events",
    "collector_heartbeats",
    "manual_events",
    "event_completions",
    "discord_event_commands",
    "discord_channel_events",
)
# The raw records besides the voice stream, observed together (one step, one query).
RAW_RECORDS = tuple(_raw_records)
(
    MEMBER_EVENTS,
    SCHEDULED_EVENTS,
    HEARTBEATS,
    MANUAL_EVENTS,
    EVENT_COMPLETIONS,
    EVENT_COMMANDS,
    CHANNEL_EVENTS,
) = RAW_RECORDS

MEMBERS, VOICE_SESSIONS, EVENTS, EVENT_ATTENDANCE, VOICE_CHANNELS = _tables(
    "pwr_core", "members", "voice_sessions", "events", "event_attendance", "voice_channels"
)
# Attendance is partitioned per event; a weekly or monthly aggregate reads the attendance of every
# event whose window starts in its period, which no partition mapping can name in advance.
ALL_EVENT_ATTENDANCE = AssetDep(EVENT_ATTENDANCE, partition_mapping=AllPartitionMapping())

DAILY_ASSETS = MEMBER_VOICE_DAILY, VOICE_HEATMAP = _tables("pwr_agg", "member_voice_daily", "voice_heatmap")
MEMBER_ENGAGEMENT_WEEKLY, MEMBER_MONTHLY_STATUS = _tables(
    "pwr_agg", "member_engagement_weekly", "member_monthly_status"
)
DASHBOARD_TABLES = (
    COHORT_RETENTION,
    MEMBER_TREND,
    EVENT_SUCCESS,
    EVENT_TYPE_SUCCESS,
    EVENT_RSVP,
    MEMBER_VOICE_HABITS,
) = _tables(
    "pwr_agg",
    "cohort_retention",
    "member_trend",
    "event_success",
    "event_type_success",
    "event_rsvp",
    "member_voice_habits",
)

WEEKLY_DIGEST = AssetKey(["digest", "weekly_digest"])
"""The weekly summary posted to Discord (not a warehouse table: its own group)."""

# Dota League Insights (group "dota"): raw OpenDota documents and links, and the tables built from them.
DOTA_RAW_MATCHES, DOTA_RAW_REFERENCES, DOTA_PLAYER_LINKS = _tables(
    "pwr_dota", "raw_matches", "raw_references", "player_links"
)
DOTA_SOURCES = (DOTA_RAW_MATCHES, DOTA_RAW_REFERENCES, DOTA_PLAYER_LINKS)
DOTA_HEROES, DOTA_LEAGUES, DOTA_MATCHES, DOTA_MATCH_PLAYERS = _tables(
    "pwr_dota", "heroes", "leagues", "matches", "match_players"
)
