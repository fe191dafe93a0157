"""Declarative automation of the dashboard tables: requested when missing, then only after one of
their inputs is materialized again (evaluated as the daemon's sensor would, tick by tick)."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, evaluate_automation_conditions, instance_for_test

from pwr_platform.defs.keys import (
    COHORT_RETENTION,
    DASHBOARD_TABLES,
    EVENT_SUCCESS,
    EVENT_TYPE_SUCCESS,
    MEMBER_MONTHLY_STATUS,
)
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform_tests.agg_runner import ASSETS, run_assets
from pwr_platform_tests.agg_scenario import insert_scenario


def test_dashboard_tables_refresh_after_their_inputs(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    assets = Definitions(
        assets=list(ASSETS.values()), resources={"warehouse": WarehouseResource(database_url=warehouse_url)}
    )
    selection = AssetSelection.assets(*DASHBOARD_TABLES)
    with instance_for_test() as instance:
        start = evaluate_automation_conditions(assets, instance, asset_selection=selection)
        assert start.total_requested == 0  # the first tick only records the starting point
        first = evaluate_automation_conditions(
            assets, instance, asset_selection=selection, cursor=start.cursor
        )
        assert {k for k in DASHBOARD_TABLES if first.get_num_requested(k)} == set(DASHBOARD_TABLES)

        # the daemon launches the requested run: all four tables, inputs first
        run_assets(warehouse_url, list(DASHBOARD_TABLES), instance=instance)
        second = evaluate_automation_conditions(
            assets, instance, asset_selection=selection, cursor=first.cursor
        )
        assert second.total_requested == 0

        # a monthly partition is re-materialized: only the table made from it refreshes
        run_assets(warehouse_url, [MEMBER_MONTHLY_STATUS], partition="2025-03-01", instance=instance)
        third = evaluate_automation_conditions(
            assets, instance, asset_selection=selection, cursor=second.cursor
        )
        assert {k for k in DASHBOARD_TABLES if third.get_num_requested(k)} == {COHORT_RETENTION}
        run_assets(warehouse_url, [COHORT_RETENTION], instance=instance)

        # event_success refreshed on its own (e.g. after new attendance): the per-type table follows
        run_assets(warehouse_url, [EVENT_SUCCESS], instance=instance)
        fourth = evaluate_automation_conditions(
            assets, instance, asset_selection=selection, cursor=third.cursor
        )
        assert {k for k in DASHBOARD_TABLES if fourth.get_num_requested(k)} == {EVENT_TYPE_SUCCESS}
