"""Asset keys the aggregates read and write (the shared contract's names, in one place).

The pwr_core assets are built in their own package; the aggregates refer to them by key only,
so this layer loads (and its tests run) whether or not the core package is present.
"""

from __future__ import annotations

from dagster import AssetKey

MEMBERS = AssetKey(["pwr_core", "members"])
VOICE_SESSIONS = AssetKey(["pwr_core", "voice_sessions"])
EVENTS = AssetKey(["pwr_core", "events"])
EVENT_ATTENDANCE = AssetKey(["pwr_core", "event_attendance"])

MEMBER_VOICE_DAILY = AssetKey(["pwr_agg", "member_voice_daily"])
VOICE_HEATMAP = AssetKey(["pwr_agg", "voice_heatmap"])
MEMBER_ENGAGEMENT_WEEKLY = AssetKey(["pwr_agg", "member_engagement_weekly"])
MEMBER_MONTHLY_STATUS = AssetKey(["pwr_agg", "member_monthly_status"])
COHORT_RETENTION = AssetKey(["pwr_agg", "cohort_retention"])
MEMBER_TREND = AssetKey(["pwr_agg", "member_trend"])
EVENT_SUCCESS = AssetKey(["pwr_agg", "event_success"])
EVENT_TYPE_SUCCESS = AssetKey(["pwr_agg", "event_type_success"])

DAILY_ASSETS = (MEMBER_VOICE_DAILY, VOICE_HEATMAP)
DASHBOARD_TABLES = (COHORT_RETENTION, MEMBER_TREND, EVENT_SUCCESS, EVENT_TYPE_SUCCESS)
