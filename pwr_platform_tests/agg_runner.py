"""Materialize pwr_agg assets in tests: only the assets asked for (and their checks), on a test DB.

The pwr_core assets are not part of this layer; tests fill the core tables with SQL, and pass
``dagster.materialize`` only the aggregate definitions they run, so missing upstream definitions
do not matter.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult, materialize

from pwr_platform.defs.agg import checks as agg_checks
from pwr_platform.defs.agg import (
    dashboard_tables,
    member_engagement_weekly,
    member_monthly_status,
    member_voice_daily,
    voice_heatmap,
)
from pwr_platform.defs.agg.automation import RANGE_END_TAG, RANGE_START_TAG
from pwr_platform.defs.policy import layer_policy
from pwr_platform.defs.resources import WarehouseResource

# with the layer policy the code location applies (group, freshness, automation), as the daemon sees them
ASSETS = {
    a.key: a.map_asset_specs(layer_policy)
    for a in [
        member_voice_daily.member_voice_daily,
        voice_heatmap.voice_heatmap,
        member_engagement_weekly.member_engagement_weekly,
        member_monthly_status.member_monthly_status,
        dashboard_tables.cohort_retention,
        dashboard_tables.member_trend,
        dashboard_tables.event_success,
        dashboard_tables.event_type_success,
        dashboard_tables.event_rsvp,
        dashboard_tables.member_voice_habits,
    ]
}
CHECKS = [
    agg_checks.daily_totals_match_sessions,
    agg_checks.daily_rows_for_known_members,
    agg_checks.weekly_totals_equal_sum_of_days,
    agg_checks.weekly_rows_for_known_members,
    agg_checks.monthly_covers_eligible_members,
]


def checks_of(keys: Sequence[AssetKey]) -> list:
    return [c for c in CHECKS if any(k.asset_key in keys for k in c.check_keys)]


def run_assets(
    url: str,
    keys: Sequence[AssetKey],
    *,
    partition: str | None = None,
    first: str | None = None,
    last: str | None = None,
    instance: DagsterInstance | None = None,
    with_checks: bool = True,
    raise_on_error: bool = True,
) -> ExecuteInProcessResult:
    """One run of ``keys`` for one partition, a partition range (one run), or unpartitioned."""
    tags = {RANGE_START_TAG: first, RANGE_END_TAG: last} if first else None
    return materialize(
        [ASSETS[k] for k in keys] + (checks_of(keys) if with_checks else []),
        partition_key=partition,
        tags=tags,
        resources={"warehouse": WarehouseResource(database_url=url)},
        instance=instance,
        raise_on_error=raise_on_error,
    )


def check_results(result: ExecuteInProcessResult) -> dict[str, bool]:
    """{"<asset>:<check>": passed} of the run's asset check evaluations."""
    return {f"{e.asset_key.path[-1]}:{e.check_name}": e.passed for e in result.get_asset_check_evaluations()}


def indexes_built_after(result: ExecuteInProcessResult) -> bool:
    """Whether the run rebuilt its table whole (``indexes_built_after_insert``): one materialization
    per partition of the run, all with the run's metadata, so one value."""
    (flag,) = {
        e.event_specific_data.materialization.metadata["indexes_built_after_insert"].value
        for e in result.get_asset_materialization_events()
    }
    return flag
