"""Asset keys of the shared contract (BRIEF: do not rename), in one place for deps and selections."""

from dagster import AssetKey

VOICE_EVENTS = AssetKey(["pwr_raw", "discord_voice_events"])
MEMBERS = AssetKey(["pwr_core", "members"])
VOICE_SESSIONS = AssetKey(["pwr_core", "voice_sessions"])
EVENTS = AssetKey(["pwr_core", "events"])
EVENT_ATTENDANCE = AssetKey(["pwr_core", "event_attendance"])
