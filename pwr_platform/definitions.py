"""The Dagster code location: assembles every layer's assets, checks, sensors and schedules.

Cross-cutting policy (resources, automation) is applied here once, not on each asset.
"""

from __future__ import annotations

from dagster import Definitions

from pwr_platform.defs.resources import WarehouseResource


def build_definitions(warehouse: WarehouseResource | None = None) -> Definitions:
    return Definitions(
        resources={"warehouse": warehouse or WarehouseResource()},
    )


defs = build_definitions()
