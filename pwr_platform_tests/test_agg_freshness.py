"""Freshness policies: every aggregate has one, and it turns WARN / FAIL when runs stop.

The daemon's freshness loop (``dagster-daemon``) evaluates each asset's policy with Dagster's
evaluator; the test calls the same evaluator at chosen times after a real materialization.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from dagster import AssetKey, instance_for_test
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.freshness_evaluator import TimeWindowFreshnessPolicyEvaluator
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time
from dagster._time import get_current_datetime

from pwr_platform.definitions import build_definitions
from pwr_platform.defs.keys import MEMBER_ENGAGEMENT_WEEKLY, MEMBER_VOICE_DAILY
from pwr_platform_tests.agg_runner import run_assets
from pwr_platform_tests.agg_scenario import insert_scenario

defs = build_definitions()

AGGREGATES = [k for k in defs.resolve_asset_graph().materializable_asset_keys if k.path[0] == "pwr_agg"]


def test_every_aggregate_has_a_freshness_policy() -> None:
    graph = defs.resolve_asset_graph()
    assert len(AGGREGATES) == 10  # daily, weekly, monthly + 7 dashboard tables
    missing = [
        k.to_user_string() for k in AGGREGATES if graph.get(k).freshness_policy_or_from_metadata is None
    ]
    assert missing == []


def _state(instance, key: AssetKey, after: timedelta, started) -> FreshnessState:
    node = defs.resolve_asset_graph().get(key)
    with freeze_time(started + after):
        return asyncio.run(
            TimeWindowFreshnessPolicyEvaluator().evaluate_freshness(LoadingContextForTest(instance), node)
        )


def test_daily_aggregate_goes_warn_then_fail_when_runs_stop(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    with instance_for_test() as instance:
        started = get_current_datetime()
        assert _state(instance, MEMBER_VOICE_DAILY, timedelta(0), started) == FreshnessState.UNKNOWN
        run_assets(warehouse_url, [MEMBER_VOICE_DAILY], partition="2025-03-04", instance=instance)
        assert _state(instance, MEMBER_VOICE_DAILY, timedelta(minutes=30), started) == FreshnessState.PASS
        assert _state(instance, MEMBER_VOICE_DAILY, timedelta(minutes=80), started) == FreshnessState.WARN
        assert _state(instance, MEMBER_VOICE_DAILY, timedelta(hours=3), started) == FreshnessState.FAIL


def test_nightly_aggregate_fails_after_a_missed_night(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    with instance_for_test() as instance:
        started = get_current_datetime()
        run_assets(warehouse_url, [MEMBER_ENGAGEMENT_WEEKLY], partition="2025-03-03", instance=instance)
        assert _state(instance, MEMBER_ENGAGEMENT_WEEKLY, timedelta(hours=23), started) == FreshnessState.PASS
        assert _state(instance, MEMBER_ENGAGEMENT_WEEKLY, timedelta(hours=27), started) == FreshnessState.FAIL
