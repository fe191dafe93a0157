"""Which partitions each schedule tick requests (build_schedule_context, no daemon needed)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import RunRequest, SkipReason, build_schedule_context

from pwr_platform.defs.agg.automation import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    daily_aggregates_schedule,
    monthly_status_schedule,
    weekly_engagement_schedule,
)

UTC = ZoneInfo("UTC")


def requested(schedule_def, when: datetime) -> tuple[str, str] | str:
    result = schedule_def(build_schedule_context(scheduled_execution_time=when))
    if isinstance(result, SkipReason):
        return "skip"
    assert isinstance(result, RunRequest)
    if result.partition_key:
        return (result.partition_key, result.partition_key)
    return (result.tags[RANGE_START_TAG], result.tags[RANGE_END_TAG])


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # the midnight tick: the last PWR_LATE_DAYS (3) days and the new day, one run
        (datetime(2025, 3, 12, 0, 15, tzinfo=UTC), ("2025-03-09", "2025-03-12")),
        # through the day: only today
        (datetime(2025, 3, 12, 13, 15, tzinfo=UTC), ("2025-03-12", "2025-03-12")),
        (datetime(2025, 3, 12, 23, 15, tzinfo=UTC), ("2025-03-12", "2025-03-12")),
        # never before PWR_PARTITIONS_START (2024-01-01)
        (datetime(2024, 1, 2, 0, 15, tzinfo=UTC), ("2024-01-01", "2024-01-02")),
        (datetime(2023, 6, 1, 0, 15, tzinfo=UTC), "skip"),
    ],
)
def test_daily_ticks(when: datetime, expected) -> None:
    assert requested(daily_aggregates_schedule, when) == expected


def test_daily_schedule_runs_hourly_in_the_reporting_zone() -> None:
    assert daily_aggregates_schedule.cron_schedule == "15 * * * *"
    assert daily_aggregates_schedule.execution_timezone == "UTC"
    assert daily_aggregates_schedule.job_name == "daily_aggregates_job"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # Monday 10 March: the week that just ended (3 March) is final now, and the new one starts
        (datetime(2025, 3, 10, 0, 35, tzinfo=UTC), ("2025-03-03", "2025-03-10")),
        # Wednesday 12th: the late window (9th … 12th) still reaches Sunday of the previous week
        (datetime(2025, 3, 12, 0, 35, tzinfo=UTC), ("2025-03-03", "2025-03-10")),
        # Thursday 13th: the late window (10th … 13th) is inside the current week
        (datetime(2025, 3, 13, 0, 35, tzinfo=UTC), ("2025-03-10", "2025-03-10")),
    ],
)
def test_weekly_ticks(when: datetime, expected) -> None:
    assert requested(weekly_engagement_schedule, when) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # the 1st: the month that just ended, and the new one
        (datetime(2025, 4, 1, 0, 45, tzinfo=UTC), ("2025-03-01", "2025-04-01")),
        (datetime(2025, 4, 3, 0, 45, tzinfo=UTC), ("2025-03-01", "2025-04-01")),
        (datetime(2025, 4, 4, 0, 45, tzinfo=UTC), ("2025-04-01", "2025-04-01")),
    ],
)
def test_monthly_ticks(when: datetime, expected) -> None:
    assert requested(monthly_status_schedule, when) == expected


def test_range_request_runs_the_range_in_one_run(warehouse_url: str, warehouse_conn) -> None:
    """The tick's tags make one run over the whole range (the daily SQL replaces the window)."""
    from pwr_platform.defs.keys import MEMBER_VOICE_DAILY
    from pwr_platform_tests.agg_runner import run_assets
    from pwr_platform_tests.agg_scenario import insert_scenario

    insert_scenario(warehouse_conn)
    request = daily_aggregates_schedule(
        build_schedule_context(scheduled_execution_time=datetime(2025, 3, 5, 0, 15, tzinfo=UTC))
    )
    result = run_assets(
        warehouse_url,
        [MEMBER_VOICE_DAILY],
        first=request.tags[RANGE_START_TAG],
        last=request.tags[RANGE_END_TAG],
    )
    materializations = result.asset_materializations_for_node("pwr_agg__member_voice_daily")
    assert sorted(m.partition for m in materializations) == [
        "2025-03-02",
        "2025-03-03",
        "2025-03-04",
        "2025-03-05",
    ]
    assert {m.metadata["partitions"].value for m in materializations} == {4}
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_agg.member_voice_daily").fetchone()[0] == 3
