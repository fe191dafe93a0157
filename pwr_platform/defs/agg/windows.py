"""Materialize one time window of a partitioned aggregate with its SQL file.

Dagster hands the asset the time window of its run: one partition, or a whole range when a
backfill runs as a single run (``BackfillPolicy.single_run()``); the SQL replaces exactly that
window in one transaction, so both give the same table.
"""

from __future__ import annotations

from dagster import AssetExecutionContext, MaterializeResult

from pwr_platform.defs.agg.sql_runner import run_script, sql_params, window_dates
from pwr_platform.defs.resources import WarehouseResource


def materialize_window(
    context: AssetExecutionContext, warehouse: WarehouseResource, sql_name: str
) -> MaterializeResult:
    start, end = window_dates(*context.partition_time_window)
    with warehouse.connect() as conn:
        summary = run_script(conn, sql_name, sql_params(start, end))
    figures = summary[0] if summary else {}
    context.log.info(f"{sql_name}: replaced [{start}, {end}): {figures}")
    return MaterializeResult(
        metadata={
            "window_start": start.isoformat(),
            "window_end_exclusive": end.isoformat(),
            "partitions": len(context.partition_keys),
            **{k: int(v) for k, v in figures.items()},
        }
    )
