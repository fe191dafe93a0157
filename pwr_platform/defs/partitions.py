"""Partitions: per event (attendance) and day, ISO week (Monday) and month in ``PWR_TIMEZONE``.

All three start at ``PWR_PARTITIONS_START`` and include the current, still running period
(``end_offset=1``), so "today", "this week" and "this month" can be kept fresh through the day
instead of appearing only once they are over.
"""

from __future__ import annotations

from dagster import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    MonthlyPartitionsDefinition,
    WeeklyPartitionsDefinition,
)

from pwr_platform.settings import get_settings

_settings = get_settings()
_START = _settings.partitions_start.isoformat()

DAILY_PARTITIONS = DailyPartitionsDefinition(start_date=_START, timezone=_settings.timezone, end_offset=1)
# day_offset=1: weeks start on Monday (ISO weeks), like PostgreSQL's date_trunc('week', …).
WEEKLY_PARTITIONS = WeeklyPartitionsDefinition(
    start_date=_START, day_offset=1, timezone=_settings.timezone, end_offset=1
)
MONTHLY_PARTITIONS = MonthlyPartitionsDefinition(start_date=_START, timezone=_settings.timezone, end_offset=1)

# Dagster's run tags for one run over a range of partitions (what a backfill's single run uses);
# schedules, sensors, checks and `pwr materialize` all build or read them.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# One partition per pwr_core.events.event_id; the attendance sensor adds them as events appear.
event_partitions = DynamicPartitionsDefinition(name="events")
