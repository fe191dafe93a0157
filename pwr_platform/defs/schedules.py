"""Jobs of the core layer (discovered with everything else under ``defs/``).

The core refresh (members → voice_sessions → events, and the channel names) is driven by a SENSOR
(``core_refresh_sensor`` in sensors.py), not a schedule: a schedule would launch a Dagster run —
a new process, several CPU-seconds on a 2-core machine — every tick even when nothing arrived
(quiet nights, collector down), while the sensor asks the warehouse one indexed question per
tick and launches a run only when there is new raw data, and never while one is still running.

What the sensor launches is ``live_refresh_job``: the core refresh AND today's daily partitions
(member_voice_daily, voice_heatmap) AND the dashboard table that reads them (member_trend), in
ONE run (issue 16). Each Dagster run is a new Python process importing Dagster and this code
location (most of a run's CPU); one run that carries a leave all the way to the dashboard table
costs one start-up instead of three (core, then daily from a sensor, then the dashboard table
from the automation sensor), and the leave reaches the daily and dashboard tables in the same
minute as the core table. ``core_refresh_job`` stays for engineers (core only, no partition).
"""

from dagster import AssetSelection, define_asset_job

from pwr_platform.defs.agg.automation import retried_job
from pwr_platform.defs.keys import (
    DAILY_ASSETS,
    EVENTS,
    MEMBER_TREND,
    MEMBERS,
    RAW_RECORDS,
    VOICE_CHANNELS,
    VOICE_EVENTS,
    VOICE_SESSIONS,
)

# the raw sources are observed in the same run (row counts, newest event): they show in the UI
# exactly when the refresh they triggered ran
core_refresh_job = retried_job(
    "core_refresh_job",
    [VOICE_EVENTS, *RAW_RECORDS, MEMBERS, VOICE_SESSIONS, EVENTS, VOICE_CHANNELS],
    "Observe the raw tables; bring members, voice sessions, events and channel names up to date "
    "(incremental).",
)

# Partitioned by day (today's partition, from the sensor); the core assets have no partition and
# are materialized whole, as in core_refresh_job. Within the run Dagster orders the steps by their
# deps: core first, then the day, then member_trend.
live_refresh_job = retried_job(
    "live_refresh_job",
    [
        VOICE_EVENTS,
        *RAW_RECORDS,
        MEMBERS,
        VOICE_SESSIONS,
        EVENTS,
        VOICE_CHANNELS,
        *DAILY_ASSETS,
        MEMBER_TREND,
    ],
    "The core refresh, today's daily partitions and member_trend in one run (core_refresh_sensor).",
)

observe_raw_job = define_asset_job(
    "observe_raw_voice_events_job",
    selection=AssetSelection.assets(VOICE_EVENTS),
    description="Observe pwr_raw.discord_voice_events (row count, newest event).",
)
