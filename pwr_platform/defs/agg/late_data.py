"""Late data reaches the aggregates however late it is: the sensor that requests the touched partitions.

The schedules re-run today (hourly) and the last PWR_LATE_DAYS days, this week and this month
(nightly). Sessions recomputed by a spool replay after a long outage or by a log backfill older
than that never reached the daily / weekly / monthly tables. The sessionizer therefore marks, in
its own transaction, every local day whose sessions changed (``pwr_core.stale_aggregate_days``,
one mark per aggregate); this sensor requests exactly those partitions, and each aggregate run
consumes the marks of its window in its transaction. Nothing is left stale, nothing is recomputed
that did not change.

* Today is not requested here: the core refresh sensor's run (``live_refresh_job``) rebuilds
  today's daily partitions and member_trend right after the sessions, in the same run (issue 16),
  and the hourly schedule re-runs today besides; a session across midnight marks yesterday too,
  which this sensor requests.
* Every 5 minutes: what it requests is late by definition (days before today), and each tick is
  a code-server call plus a warehouse query even when nothing is pending.
* This week and this month are left to the nightly schedules (a week's rows are sums of its
  days; the dashboards read full weeks and months).
* Weekly rows are sums of daily rows: a week is requested only once no daily mark inside it is
  pending, i.e. after the daily run of its changed days succeeded.
* Contiguous partitions go in one run (the SQL replaces a whole window), and a job with a run
  still queued or running is not requested again: its run consumes the marks, or, if it fails,
  the marks stay and the next tick asks again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from pwr_platform.defs.agg.automation import (
    daily_aggregates_job,
    month_start,
    monthly_status_job,
    week_start,
    weekly_engagement_job,
)
from pwr_platform.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.run_status import ACTIVE
from pwr_platform.settings import get_settings
from pwr_platform.warehouse.sql_runner import sql_statements


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _next_week(day: date) -> date:
    return day + timedelta(days=7)


def _next_day(day: date) -> date:
    return day + timedelta(days=1)


def contiguous(keys: Iterable[date], step: Callable[[date], date]) -> list[tuple[date, date]]:
    """Sorted partition starts grouped into runs of consecutive partitions: [(first, last), …]."""
    ranges: list[tuple[date, date]] = []
    for key in sorted(set(keys)):
        if ranges and step(ranges[-1][1]) == key:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges


def requests_for(job_name: str, keys: Iterable[date], step: Callable[[date], date]) -> list[RunRequest]:
    requests = []
    for first, last in contiguous(keys, step):
        tags = {"pwr/trigger": "late_data"}
        if first == last:
            requests.append(RunRequest(job_name=job_name, partition_key=first.isoformat(), tags=tags))
        else:
            tags |= {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}
            requests.append(RunRequest(job_name=job_name, tags=tags))
    return requests


LATE_DATA_INTERVAL_SECONDS = 300


def stale_partitions(marks: dict[str, set[date]], today: date, start: date) -> dict[str, set[date]]:
    """Per job: the partition starts to request from the pending marks (see the module docstring)."""
    last_daily = today - timedelta(days=1)
    daily = {d for d in marks["member_voice_daily"] | marks["voice_heatmap"] if start <= d <= last_daily}
    weeks_waiting_for_days = {week_start(d) for d in marks["member_voice_daily"]}
    weekly = {
        week_start(d) for d in marks["member_engagement_weekly"] if start <= week_start(d) < week_start(today)
    } - weeks_waiting_for_days
    monthly = {
        month_start(d) for d in marks["member_monthly_status"] if start <= month_start(d) < month_start(today)
    }
    return {
        daily_aggregates_job.name: daily,
        weekly_engagement_job.name: weekly,
        monthly_status_job.name: monthly,
    }


STEP = {
    daily_aggregates_job.name: _next_day,
    weekly_engagement_job.name: _next_week,
    monthly_status_job.name: _next_month,
}


@sensor(
    name="late_data_aggregates_sensor",
    jobs=[daily_aggregates_job, weekly_engagement_job, monthly_status_job],
    minimum_interval_seconds=LATE_DATA_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Every 5 minutes: requests exactly the daily / weekly / monthly partitions before today whose "
        "sessions changed (late data, a spool replay, a log backfill), as marked by the sessionizer; "
        "today is rebuilt by the core refresh's run, this week and this month by the schedules; a "
        "week waits until its changed days are rebuilt."
    ),
)
def late_data_aggregates_sensor(
    context: SensorEvaluationContext, warehouse: WarehouseResource
) -> SensorResult:
    settings = get_settings()
    with warehouse.connect() as conn:
        rows = conn.execute(sql_statements("stale_aggregate_days")["pending"]).fetchall()
    marks: dict[str, set[date]] = defaultdict(set)
    for aggregate, day in rows:
        marks[aggregate].add(day)
    today = datetime.now(settings.tz).date()
    run_requests = []
    stale = stale_partitions(marks, today, settings.partitions_start)
    for job_name, keys in stale.items():
        if not keys:
            continue
        if context.instance.get_runs(RunsFilter(job_name=job_name, statuses=ACTIVE), limit=1):
            context.log.info(f"{job_name}: {len(keys)} stale partitions wait for the run in progress")
            continue
        requests = requests_for(job_name, keys, STEP[job_name])
        context.log.info(
            f"{job_name}: late data changed {len(keys)} partitions "
            f"({', '.join(k.isoformat() for k in sorted(keys)[:10])}); {len(requests)} runs"
        )
        run_requests += requests
    return SensorResult(run_requests=run_requests)
