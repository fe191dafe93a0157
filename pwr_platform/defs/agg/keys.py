"""Asset keys the aggregates write, and the core keys they read (from ``defs/keys.py``)."""

from __future__ import annotations

from dagster import AssetKey

from pwr_platform.defs.keys import ALL_EVENT_ATTENDANCE, EVENT_ATTENDANCE, EVENTS, MEMBERS, VOICE_SESSIONS

__all__ = ["ALL_EVENT_ATTENDANCE", "EVENT_ATTENDANCE", "EVENTS", "MEMBERS", "VOICE_SESSIONS"]

MEMBER_VOICE_DAILY = AssetKey(["pwr_agg", "member_voice_daily"])
VOICE_HEATMAP = AssetKey(["pwr_agg", "voice_heatmap"])
MEMBER_ENGAGEMENT_WEEKLY = AssetKey(["pwr_agg", "member_engagement_weekly"])
MEMBER_MONTHLY_STATUS = AssetKey(["pwr_agg", "member_monthly_status"])
COHORT_RETENTION = AssetKey(["pwr_agg", "cohort_retention"])
MEMBER_TREND = AssetKey(["pwr_agg", "member_trend"])
EVENT_SUCCESS = AssetKey(["pwr_agg", "event_success"])
EVENT_TYPE_SUCCESS = AssetKey(["pwr_agg", "event_type_success"])
EVENT_RSVP = AssetKey(["pwr_agg", "event_rsvp"])
MEMBER_VOICE_HABITS = AssetKey(["pwr_agg", "member_voice_habits"])

DAILY_ASSETS = (MEMBER_VOICE_DAILY, VOICE_HEATMAP)
DASHBOARD_TABLES = (
    COHORT_RETENTION,
    MEMBER_TREND,
    EVENT_SUCCESS,
    EVENT_TYPE_SUCCESS,
    EVENT_RSVP,
    MEMBER_VOICE_HABITS,
)
