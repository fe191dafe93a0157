"""The pwr_agg layer as the code location shows it: the contract's asset keys, groups, kinds,
partitions, backfill policy, jobs, schedules and the automation sensor (a change shows in review)."""

from __future__ import annotations

from dagster import (
    BackfillPolicy,
    DailyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    WeeklyPartitionsDefinition,
)

from pwr_platform.definitions import build_definitions

defs = build_definitions()

EXPECTED_PARTITIONS = {
    "member_voice_daily": DailyPartitionsDefinition,
    "voice_heatmap": DailyPartitionsDefinition,
    "member_engagement_weekly": WeeklyPartitionsDefinition,
    "member_monthly_status": MonthlyPartitionsDefinition,
    "cohort_retention": type(None),
    "member_trend": type(None),
    "event_success": type(None),
    "event_type_success": type(None),
    "event_rsvp": type(None),
    "member_voice_habits": type(None),
}


def test_aggregate_assets_follow_the_contract() -> None:
    graph = defs.resolve_asset_graph()
    agg = {k.path[1]: graph.get(k) for k in graph.materializable_asset_keys if k.path[0] == "pwr_agg"}
    assert set(agg) == set(EXPECTED_PARTITIONS)
    for name, node in agg.items():
        assert node.group_name == "pwr_agg"
        assert {"postgres", "sql"} <= set(node.kinds)
        assert isinstance(node.partitions_def, EXPECTED_PARTITIONS[name]), name
        assert node.metadata["dagster/column_schema"].columns, name
        if node.partitions_def is not None:
            assert node.backfill_policy == BackfillPolicy.single_run(), name
            assert node.partitions_def.timezone == "UTC"
        else:
            assert node.automation_condition is not None, name
    weekly = agg["member_engagement_weekly"].partitions_def
    assert weekly.get_first_partition_key() == "2024-01-01"  # a Monday
    assert weekly.time_window_for_partition_key("2025-03-10").start.weekday() == 0


def test_jobs_schedules_and_sensor() -> None:
    repo = defs.get_repository_def()
    assert {s.name: s.job_name for s in repo.schedule_defs}.items() >= {
        "daily_aggregates_schedule": "daily_aggregates_job",
        "weekly_engagement_schedule": "weekly_engagement_job",
        "monthly_status_schedule": "monthly_status_job",
    }.items()
    assert "dashboard_tables_automation" in {s.name for s in repo.sensor_defs}
    daily_job = repo.get_job("daily_aggregates_job")
    assert {k.path[1] for k in daily_job.asset_layer.executable_asset_keys} == {
        "member_voice_daily",
        "voice_heatmap",
    }
