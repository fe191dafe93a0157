"""The Superset dashboards as assets: raw → core → aggregates → dashboards in one lineage view.

One external ``AssetSpec`` per dashboard in the bundle (``superset/assets/dashboards/*.yaml``),
kind ``superset``, downstream of the warehouse tables its charts' datasets read: a physical
dataset names its ``schema.table_name``, a virtual one is read through its SQL (``lineage.py``).
Dagster does not materialize them (Superset queries the tables live); they make "what breaks if
this table is late" answerable in the UI. The URL in the metadata is where the local stack serves
the dashboard (PWR_SUPERSET_URL, else http://localhost:PWR_SUPERSET_PORT).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import AssetKey, AssetSpec, MetadataValue

from pwr_platform.defs.lineage import asset_of_table, tables_in_sql
from pwr_platform.paths import REPO_ROOT
from pwr_platform.settings import get_settings

BUNDLE = REPO_ROOT / "superset" / "assets"
GROUP = "superset"


# libyaml's loader when PyYAML has it: the pure-Python one took ~1 CPU-s for the bundle, paid by
# every Dagster run worker that imports the code location (issue 16).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(folder: Path) -> list[dict]:
    return [yaml.load(path.read_text(), Loader=_LOADER) for path in sorted(folder.rglob("*.yaml"))]  # noqa: S506 - a safe loader


def dataset_tables(dataset: dict) -> set[str]:
    """Warehouse tables a Superset dataset reads (its SQL for a virtual dataset)."""
    if dataset.get("sql"):
        return tables_in_sql(dataset["sql"]).reads
    return tables_in_sql(f"SELECT * FROM {dataset['schema']}.{dataset['table_name']}").reads


def chart_uuids(dashboard: dict) -> set[str]:
    return {
        node["meta"]["uuid"]
        for node in (dashboard.get("position") or {}).values()
        if isinstance(node, dict) and node.get("type") == "CHART" and node.get("meta", {}).get("uuid")
    }


def dashboard_url(slug: str) -> str:
    settings = get_settings()
    base = settings.superset_url or f"http://localhost:{settings.superset_port}"
    return f"{base.rstrip('/')}/superset/dashboard/{slug}/"


def dashboard_specs(bundle: Path = BUNDLE) -> list[AssetSpec]:
    if not (bundle / "dashboards").is_dir():
        return []  # an installed package without the checkout's superset/ folder
    datasets = {d["uuid"]: d for d in _load(bundle / "datasets")}
    charts = {c["uuid"]: c for c in _load(bundle / "charts")}
    specs = []
    for dashboard in _load(bundle / "dashboards"):
        tables: set[str] = set()
        for uuid in chart_uuids(dashboard):
            dataset = datasets.get(charts[uuid]["dataset_uuid"]) if uuid in charts else None
            if dataset is not None:
                tables |= dataset_tables(dataset)
        slug = dashboard["slug"]
        specs.append(
            AssetSpec(
                AssetKey(["superset", slug.replace("-", "_")]),
                description=dashboard.get("description") or dashboard["dashboard_title"],
                deps=sorted({asset_of_table(t) for t in tables}, key=lambda k: k.to_user_string()),
                group_name=GROUP,
                kinds={"superset"},
                metadata={
                    "dashboard_title": dashboard["dashboard_title"],
                    "url": MetadataValue.url(dashboard_url(slug)),
                    "warehouse_tables": ", ".join(sorted(tables)),
                },
            )
        )
    return specs


dashboards = dashboard_specs()
