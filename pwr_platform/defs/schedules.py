"""Jobs of the core layer (discovered with everything else under ``defs/``).

The core refresh (members → voice_sessions → events) runs every minute, driven by a SENSOR
(``core_refresh_sensor`` in sensors.py), not a schedule: a schedule would launch a Dagster run —
a new process, several CPU-seconds on a 2-core machine — every minute even when nothing arrived
(quiet nights, collector down), while the sensor asks the warehouse one indexed question per
minute and launches a run only when there is new raw data, and never while one is still running.
"""

from dagster import AssetSelection, define_asset_job

from pwr_platform.defs.agg.automation import retried_job
from pwr_platform.defs.keys import EVENTS, MEMBERS, RAW_RECORDS, VOICE_EVENTS, VOICE_SESSIONS

# the raw sources are observed in the same run (row counts, newest event): they show in the UI
# exactly when the refresh they triggered ran
core_refresh_job = retried_job(
    "core_refresh_job",
    [VOICE_EVENTS, *RAW_RECORDS, MEMBERS, VOICE_SESSIONS, EVENTS],
    "Observe the raw tables; bring members, voice sessions and events up to date (incremental).",
)

observe_raw_job = define_asset_job(
    "observe_raw_voice_events_job",
    selection=AssetSelection.assets(VOICE_EVENTS),
    description="Observe pwr_raw.discord_voice_events (row count, newest event).",
)
