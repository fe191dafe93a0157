"""The Superset bundle read as data: charts, their datasets, dashboards and their native filters.

Shared by the fast bundle test (no Superset) and the browser test (which iterates the
dashboards' native filters and their scopes), so a dashboard or chart added later is covered
by both without a list to keep up to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from pwr_platform.runtime.superset_service import ASSETS_DIR

TEMPORAL_RANGE = "TEMPORAL_RANGE"
NOT_DATE_FILTERED = "Not narrowed by the Date range"
COMPLETE_PERIOD_FILTER = "filter_complete_"


@dataclass(frozen=True)
class Chart:
    stem: str
    config: dict
    dataset: dict

    @property
    def name(self) -> str:
        return self.config["slice_name"]

    @property
    def params(self) -> dict:
        return self.config["params"]

    def temporal_filters(self) -> list[dict]:
        return [f for f in self.params.get("adhoc_filters", []) if f.get("operator") == TEMPORAL_RANGE]

    def column(self, name: str) -> dict | None:
        return next((c for c in self.dataset["columns"] if c["column_name"] == name), None)


@dataclass(frozen=True)
class NativeFilter:
    dashboard: str
    config: dict
    charts_in_scope: tuple[Chart, ...]
    charts_excluded: tuple[Chart, ...]

    @property
    def name(self) -> str:
        return self.config["name"]

    @property
    def is_time(self) -> bool:
        return self.config["filterType"] == "filter_time"

    @property
    def column(self) -> str | None:
        targets = self.config.get("targets") or [{}]
        return (targets[0].get("column") or {}).get("name")


@dataclass(frozen=True)
class Dashboard:
    slug: str
    title: str
    config: dict
    charts: dict[int, Chart]  # by the chartId the dashboard's layout and filter scopes use

    def native_filters(self) -> list[NativeFilter]:
        out = []
        for f in self.config["metadata"].get("native_filter_configuration", []):
            excluded = set(f["scope"]["excluded"])
            out.append(
                NativeFilter(
                    self.slug,
                    f,
                    tuple(c for i, c in self.charts.items() if i not in excluded),
                    tuple(c for i, c in self.charts.items() if i in excluded),
                )
            )
        return out


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@cache
def datasets(assets_dir: Path = ASSETS_DIR) -> dict[str, dict]:
    return {d["uuid"]: d for d in map(_load, sorted((assets_dir / "datasets").rglob("*.yaml")))}


@cache
def charts(assets_dir: Path = ASSETS_DIR) -> dict[str, Chart]:
    """By UUID."""
    by_uuid = {}
    for path in sorted((assets_dir / "charts").glob("*.yaml")):
        config = _load(path)
        by_uuid[config["uuid"]] = Chart(path.stem, config, datasets(assets_dir)[config["dataset_uuid"]])
    return by_uuid


@cache
def dashboards(assets_dir: Path = ASSETS_DIR) -> list[Dashboard]:
    out = []
    for path in sorted((assets_dir / "dashboards").glob("*.yaml")):
        config = _load(path)
        tiles = [v for v in config["position"].values() if isinstance(v, dict) and v.get("type") == "CHART"]
        by_id = {t["meta"]["chartId"]: charts(assets_dir)[t["meta"]["uuid"]] for t in tiles}
        out.append(Dashboard(config["slug"], config["dashboard_title"], config, by_id))
    return out


# ---------------------------------------------------------------------------- the test's own SQL
GRAINS = {"P1D": "day", "P1W": "week", "P1M": "month"}


def dataset_source(dataset: dict) -> str:
    """What a query reads the dataset from: its SQL as a subquery, or its table."""
    if dataset["sql"]:
        return f"({dataset['sql']})"
    return f"{dataset['schema']}.{dataset['table_name']}"


def sql_literal(value) -> str:
    """A filter value as an SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _metric_sql(dataset: dict, metric) -> str:
    if isinstance(metric, dict):  # an adhoc metric as the chart editor writes it
        if metric.get("expressionType") == "SQL":
            return metric["sqlExpression"]
        return f"{metric['aggregate']}({metric['column']['column_name']})"
    return next(m["expression"] for m in dataset["metrics"] if m["metric_name"] == metric)


def chart_metrics(chart: Chart) -> list:
    params = chart.params
    metrics = list(params.get("metrics") or [])
    if params.get("metric"):
        metrics.append(params["metric"])
    return metrics


def _column_sql(column: str | dict) -> str:
    """A chart column as SQL: a dataset column's name, or an adhoc column's expression (the
    drill-down links, e.g. ``pwr_agg.member_profile_link(member_id)``)."""
    return column if isinstance(column, str) else column["sqlExpression"]


def chart_sql(chart: Chart, where: list[str], *, query_b: bool = False) -> tuple[str, list[str], list]:
    """SQL computing what ``chart`` shows, written from the bundle (dataset SQL + saved metric
    expressions + the chart's own non-temporal filters) without Superset: the grouping columns
    (the x axis at its time grain, then the groupby columns) and one column per metric.
    ``where`` adds the conditions of the filters under test. Returns (sql, group columns, metrics).
    """
    params = chart.params
    suffix = "_b" if query_b else ""
    conditions = list(where)
    having: list[str] = []
    for f in params.get(f"adhoc_filters{suffix}", []):
        if f.get("operator") == TEMPORAL_RANGE:
            continue
        if f.get("clause") == "HAVING":  # on the groups (e.g. a minimum number of games)
            having.append(f"({f['sqlExpression']})")
        elif f["expressionType"] == "SQL":
            conditions.append(f"({f['sqlExpression']})")
        elif f["operator"] in ("IS TRUE", "IS FALSE"):
            conditions.append(f"{f['subject']} {f['operator']}")
        elif f["operator"] == "IN":
            values = ", ".join(sql_literal(v) for v in f["comparator"])
            conditions.append(f"{f['subject']} IN ({values})")
        else:
            raise NotImplementedError(f"{chart.stem}: filter {f}")
    groups: list[str] = []
    x_axis = params.get("x_axis")
    if x_axis:
        grain = GRAINS.get(params.get("time_grain_sqla") or "")
        is_time = (chart.column(x_axis) or {}).get("is_dttm")
        groups.append(f"date_trunc('{grain}', {x_axis})::date" if grain and is_time else x_axis)
    groupby = params.get(f"groupby{suffix}") or []
    groups += [_column_sql(c) for c in ([groupby] if isinstance(groupby, str) else groupby)]
    if params.get("query_mode") == "raw":
        columns = [_column_sql(c) for c in params["all_columns"]]
        sql = f"SELECT {', '.join(columns)} FROM {dataset_source(chart.dataset)} AS t"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        return sql, list(columns), []
    metrics = list(params.get(f"metrics{suffix}") or []) if query_b else chart_metrics(chart)
    select = [f"{g} AS g{i}" for i, g in enumerate(groups)]
    select += [f"({_metric_sql(chart.dataset, m)})::float8 AS m{i}" for i, m in enumerate(metrics)]
    sql = f"SELECT {', '.join(select)} FROM {dataset_source(chart.dataset)} AS t"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if groups:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(groups)))
    if having:
        sql += " HAVING " + " AND ".join(having)
    return sql, groups, metrics
