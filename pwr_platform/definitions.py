"""The Dagster code location: assembles every layer's assets, checks, sensors and schedules.

Each layer is a package under ``defs/`` (raw, core, agg); every asset and asset check defined in
any module of those packages is picked up here, so adding an asset never means editing this
file. Cross-cutting policy (resources, automation) is applied here once, not on each asset.
"""

from __future__ import annotations

from dagster import (
    Definitions,
    in_process_executor,
    load_asset_checks_from_package_module,
    load_assets_from_package_module,
)

from pwr_platform.defs import agg, core, digest, raw
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.schedules import JOBS, SCHEDULES
from pwr_platform.defs.sensors import SENSORS

LAYERS = (raw, core, agg, digest)


def build_definitions(warehouse: WarehouseResource | None = None) -> Definitions:
    assets = [a for layer in LAYERS for a in load_assets_from_package_module(layer)]
    checks = [c for layer in LAYERS for c in load_asset_checks_from_package_module(layer)]
    return Definitions(
        assets=assets,
        asset_checks=checks,
        sensors=SENSORS,
        schedules=[*SCHEDULES, *digest.SCHEDULES],
        jobs=[*JOBS, *digest.JOBS],
        resources={"warehouse": warehouse or WarehouseResource()},
        # Every job here is a few SQL statements in PostgreSQL: running their steps inside the run
        # worker instead of one new Python process per step (the multiprocess default, each
        # importing Dagster and this code location) is most of a run's CPU (issue 16).
        executor=in_process_executor,
    )


defs = build_definitions()
