"""The Dagster code location: everything under ``defs/`` is discovered, policy is applied once.

``dg`` (``[tool.dg]`` in pyproject.toml) and ``workspace.yaml`` both load ``defs`` below. Every
asset, check, job, schedule and sensor defined in a module under ``pwr_platform/defs`` is picked
up by ``load_from_defs_folder``, so adding one never means editing a list in another file; the
layer policy (group, kinds, freshness, automation) is applied by ``defs/policy.py``, not repeated
in each decorator; the one resource is bound here so a test can point the same graph at its own
database.
"""

from __future__ import annotations

import dagster as dg

from pwr_platform.defs.policy import apply_policy, load_defs_folder
from pwr_platform.defs.resources import WarehouseResource


def build_definitions(warehouse: WarehouseResource | None = None) -> dg.Definitions:
    return dg.Definitions.merge(
        apply_policy(load_defs_folder()),
        dg.Definitions(
            resources={"warehouse": warehouse or WarehouseResource()},
            # Every job here is a few SQL statements in PostgreSQL: running their steps inside the
            # run worker instead of one new Python process per step (the multiprocess default, each
            # importing Dagster and this code location) is most of a run's CPU (issue 16).
            executor=dg.in_process_executor,
        ),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
