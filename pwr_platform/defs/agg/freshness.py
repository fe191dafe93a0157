"""Freshness policies of the pwr_agg layer, in one place.

A policy turns an asset red (FAIL) in the Dagster UI when its newest materialization is older
than the fail window, and yellow (WARN) past the warn window; the daemon's freshness loop
evaluates them. Each window is the asset's schedule period plus slack for one missed or slow run:
a stalled schedule, daemon or failing run shows within one period.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import FreshnessPolicy

# member_voice_daily and voice_heatmap: the current day is re-materialized every hour.
HOURLY = FreshnessPolicy.time_window(fail_window=timedelta(hours=2), warn_window=timedelta(minutes=75))
# weekly, monthly and the dashboard tables: every night (the dashboards also after their inputs).
NIGHTLY = FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=25))
