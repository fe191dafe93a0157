"""Drive the real code location as the daemon would: evaluate a sensor, then execute the runs it
requested on the same Dagster instance (in process), against a test warehouse."""

from __future__ import annotations

from dagster import DagsterInstance, Definitions, RunRequest, SensorResult, SkipReason, build_sensor_context

from pwr_platform.definitions import build_definitions
from pwr_platform.defs.resources import WarehouseResource


def definitions(url: str) -> Definitions:
    return build_definitions(WarehouseResource(database_url=url))


def tick(sensor, instance: DagsterInstance, url: str, cursor: str | None = None) -> SensorResult | SkipReason:
    """One evaluation; its partition requests are applied to the instance as the daemon does."""
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource(database_url=url)}
    )
    result = sensor(context)
    for request in getattr(result, "dynamic_partitions_requests", None) or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def execute(defs: Definitions, instance: DagsterInstance, request: RunRequest):
    """Run one requested run for real; returns the execution result (success or not)."""
    if request.job_name:
        job = defs.resolve_job_def(request.job_name)
        selection = None
    else:
        job = defs.resolve_implicit_job_def_def_for_assets(list(request.asset_selection))
        selection = list(request.asset_selection)
    return job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        tags=dict(request.tags),
        asset_selection=selection,
        raise_on_error=False,
    )


def describe(request: RunRequest) -> tuple[str, str]:
    """(job or asset, partition or 'first..last') of a request, for exact assertions."""
    target = request.job_name or ",".join(k.to_user_string() for k in request.asset_selection)
    if request.partition_key:
        return target, request.partition_key
    tags = request.tags
    return (
        target,
        f"{tags['dagster/asset_partition_range_start']}..{tags['dagster/asset_partition_range_end']}",
    )


def drain(sensor, defs: Definitions, instance: DagsterInstance, url: str, max_ticks: int = 6) -> list[list]:
    """Tick and execute every request until a tick requests nothing; the requests of each tick."""
    ticks = []
    cursor = None
    for _ in range(max_ticks):
        result = tick(sensor, instance, url, cursor)
        cursor = result.cursor
        if not result.run_requests:
            return ticks
        ticks.append([describe(r) for r in result.run_requests])
        for request in result.run_requests:
            assert execute(defs, instance, request).success, describe(request)
    raise AssertionError(f"still requesting after {max_ticks} ticks: {ticks}")
