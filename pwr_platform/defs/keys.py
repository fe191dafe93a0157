"""Asset keys of the shared contract (BRIEF: do not rename), in one place for deps and selections."""

from dagster import AllPartitionMapping, AssetDep, AssetKey

VOICE_EVENTS = AssetKey(["pwr_raw", "discord_voice_events"])
MEMBERS = AssetKey(["pwr_core", "members"])
VOICE_SESSIONS = AssetKey(["pwr_core", "voice_sessions"])
EVENTS = AssetKey(["pwr_core", "events"])
EVENT_ATTENDANCE = AssetKey(["pwr_core", "event_attendance"])

# Attendance is partitioned per event; a weekly or monthly aggregate reads the attendance of every
# event whose window starts in its period, which no partition mapping can name in advance.
ALL_EVENT_ATTENDANCE = AssetDep(EVENT_ATTENDANCE, partition_mapping=AllPartitionMapping())
