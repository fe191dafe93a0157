"""Schedules of the partitioned aggregates, and the sensor that refreshes the dashboard tables.

Why schedules here: which partitions are due is a matter of the clock in PWR_TIMEZONE ("the
current day", "the last PWR_LATE_DAYS days", "the week that just ended"), and a schedule says
exactly that, testable tick by tick. Every tick requests ONE run over a contiguous range of
partitions (the assets' SQL replaces a whole window at once):

* ``daily_aggregates_schedule`` (hourly at :15): today's partition of member_voice_daily and
  voice_heatmap; the midnight tick also re-runs the last PWR_LATE_DAYS days so late events land.
* ``weekly_engagement_schedule`` (00:35 every night): the weeks touched by that late window, i.e.
  on Monday the week that just ended (plus the new one), on other nights the current week (plus
  the previous one while the late window reaches back into it), so weekly = sum of its days.
* ``monthly_status_schedule`` (00:45 every night): likewise for months; on the 1st that is the
  month that just ended.

The dashboard tables have no time partition: declarative automation refreshes them after their
inputs (``conditions.py``), through ``dashboard_tables_automation`` below. Schedules and sensor
start RUNNING, so with the daemon up nothing needs a click.
"""

from collections.abc import Callable
from datetime import date, timedelta

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from pwr_platform.defs.keys import (
    DAILY_ASSETS,
    DASHBOARD_TABLES,
    MEMBER_ENGAGEMENT_WEEKLY,
    MEMBER_MONTHLY_STATUS,
)
from pwr_platform.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from pwr_platform.settings import get_settings

__all__ = ["RANGE_END_TAG", "RANGE_START_TAG"]  # re-exported for the schedules' callers

# The schedules' cron zone is part of their definition (read when the code location loads);
# everything a tick decides is read from the settings at evaluation time.
TIMEZONE = get_settings().timezone

# A failed run of these jobs is re-run by the daemon (dagster.yaml's run_retries): each run
# replaces whole windows in one transaction, so a repeat gives the same tables.
RETRIED = {"dagster/max_retries": "2"}


def retried_job(name: str, keys, description: str):
    """An asset job over ``keys`` whose failed runs the daemon retries (see RETRIED)."""
    return define_asset_job(
        name, selection=AssetSelection.assets(*keys), description=description, tags=RETRIED
    )


daily_aggregates_job = retried_job(
    "daily_aggregates_job",
    DAILY_ASSETS,
    "member_voice_daily and voice_heatmap over a range of days, in one run.",
)
weekly_engagement_job = retried_job(
    "weekly_engagement_job",
    [MEMBER_ENGAGEMENT_WEEKLY],
    "member_engagement_weekly over a range of ISO weeks, in one run.",
)
monthly_status_job = retried_job(
    "monthly_status_job", [MEMBER_MONTHLY_STATUS], "member_monthly_status over a range of months, in one run."
)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def late_window(today: date, late_days: int) -> tuple[date, date]:
    """The days a nightly tick on ``today`` re-runs: the last ``late_days`` days and today."""
    return today - timedelta(days=late_days), today


def range_request(first_key: date, last_key: date, scheduled_day: date) -> RunRequest | SkipReason:
    """One run over partitions ``first_key`` … ``last_key`` (clipped to PWR_PARTITIONS_START)."""
    start = get_settings().partitions_start
    if last_key < start:
        return SkipReason(f"{last_key} is before PWR_PARTITIONS_START ({start}).")
    first_key = max(first_key, start)
    if first_key == last_key:
        return RunRequest(partition_key=first_key.isoformat())
    return RunRequest(
        tags={RANGE_START_TAG: first_key.isoformat(), RANGE_END_TAG: last_key.isoformat()},
        run_key=f"{first_key}..{last_key}@{scheduled_day}",
    )


def _today(context: ScheduleEvaluationContext) -> tuple[date, int]:
    local = context.scheduled_execution_time.astimezone(get_settings().tz)
    return local.date(), local.hour


@schedule(
    name="daily_aggregates_schedule",
    job=daily_aggregates_job,
    cron_schedule="15 * * * *",
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Hourly: today's daily partitions; at midnight also the last PWR_LATE_DAYS days.",
)
def daily_aggregates_schedule(context: ScheduleEvaluationContext):
    today, hour = _today(context)
    first = late_window(today, get_settings().late_days)[0] if hour == 0 else today
    return range_request(first, today, today)


def _period_schedule(name: str, job, minute: int, period_start: Callable[[date], date], what: str):
    @schedule(
        name=name,
        job=job,
        cron_schedule=f"{minute} 0 * * *",
        execution_timezone=TIMEZONE,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Nightly, after the daily late-window run: the {what} touched by the late window.",
    )
    def _tick(context: ScheduleEvaluationContext):
        today, _ = _today(context)
        first_day, last_day = late_window(today, get_settings().late_days)
        return range_request(period_start(first_day), period_start(last_day), today)

    return _tick


weekly_engagement_schedule = _period_schedule(
    "weekly_engagement_schedule", weekly_engagement_job, 35, week_start, "ISO weeks"
)
monthly_status_schedule = _period_schedule(
    "monthly_status_schedule", monthly_status_job, 45, month_start, "months"
)

# Every 5 minutes: the live path (a leave → member_trend) runs inside the core refresh's run
# (live_refresh_job); what this sensor still carries — the event tables after an attendance run,
# the tables after the hourly / nightly aggregate runs, the nightly refresh — is not a matter of
# seconds, and each evaluation walks the conditions of the whole graph in the daemon (issue 16).
dashboard_tables_automation = AutomationConditionSensorDefinition(
    "dashboard_tables_automation",
    target=AssetSelection.assets(*DASHBOARD_TABLES),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=300,
    description="Refreshes the pwr_agg dashboard tables after their inputs change, and nightly.",
)
