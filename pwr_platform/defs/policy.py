"""What every asset of a layer shares, said once: group, kinds, freshness and automation.

The decorators under ``defs/`` say what is particular to an asset (key, deps, partitions, SQL);
whatever follows from the layer an asset is in is applied here by one spec map over the loaded
definitions, so a new aggregate gets the same group, kinds, freshness policy and automation as
its siblings without repeating them (and cannot silently differ).

* group = the warehouse schema (``pwr_raw``, ``pwr_core``, ``pwr_agg``; ``dota`` for ``pwr_dota``);
  kinds ``postgres`` + ``sql`` for every table asset.
* pwr_dota: the tables refresh eagerly, as soon as new documents are observed or recorded.
* pwr_agg: daily partitions are re-materialized hourly (``HOURLY``), everything else nightly
  (``NIGHTLY``); the unpartitioned dashboard tables refresh after their inputs (``AFTER_INPUTS``),
  the partitioned ones run on schedules (``automation.py``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg

from pwr_platform.paths import REPO_ROOT

TABLE_SCHEMAS = ("pwr_raw", "pwr_core", "pwr_agg", "pwr_dota")
# a schema whose group is not its own name: the Dota tables form the group "dota"
GROUP_OF_SCHEMA = {"pwr_dota": "dota"}
TABLE_KINDS = {"postgres", "sql"}
DOTA_EAGER = dg.AutomationCondition.eager()


def load_defs_folder() -> dg.Definitions:
    """Every definition in the ``pwr_platform.defs`` package.

    From a checkout, ``load_from_defs_folder`` reads ``[tool.dg]`` in pyproject.toml. The Docker
    image installs the package without its pyproject.toml, so there the same folder is loaded from
    the module itself (the same tree ``load_from_defs_folder`` builds).
    """
    if (REPO_ROOT / "pyproject.toml").is_file():
        return dg.load_from_defs_folder(path_within_project=REPO_ROOT)
    import pwr_platform.defs as defs_package

    return dg.ComponentTree.from_module(
        defs_module=defs_package, project_root=Path(defs_package.__file__).parent
    ).build_defs()


def layer_policy(spec: dg.AssetSpec) -> dg.AssetSpec:
    from pwr_platform.defs.agg.conditions import AFTER_INPUTS
    from pwr_platform.defs.agg.freshness import HOURLY, NIGHTLY
    from pwr_platform.defs.keys import DOTA_SOURCES

    schema = spec.key.path[0]
    if schema not in TABLE_SCHEMAS:
        return spec
    spec = spec.replace_attributes(group_name=GROUP_OF_SCHEMA.get(schema, schema)).merge_attributes(
        kinds=TABLE_KINDS
    )
    if schema == "pwr_dota":
        # the Dota tables follow their documents: parsed as soon as an import or refresh lands some
        if spec.key in DOTA_SOURCES or spec.automation_condition:
            return spec
        return spec.replace_attributes(automation_condition=DOTA_EAGER)
    if schema != "pwr_agg":
        return spec
    if isinstance(spec.partitions_def, dg.DailyPartitionsDefinition):
        return spec.replace_attributes(freshness_policy=HOURLY)
    if spec.partitions_def is not None:
        return spec.replace_attributes(freshness_policy=NIGHTLY)
    return spec.replace_attributes(freshness_policy=NIGHTLY, automation_condition=AFTER_INPUTS)


def apply_policy(defs: dg.Definitions) -> dg.Definitions:
    # map_resolved_asset_specs is "preview" in Dagster 1.13 (a notice on every code-location
    # load); it is the documented way to apply one policy to loaded definitions, so the notice is
    # silenced here, for this call only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_resolved_asset_specs(func=layer_policy)
