"""The Superset bundle's promises, checked on the YAML alone (no Superset, milliseconds).

A chart added later without a time column and temporal filter, a native filter scoped onto a
chart whose dataset lacks the filter's column, or a trend chart drawing the period in progress
fails here in CI, before anyone opens a dashboard.
"""

from __future__ import annotations

import pytest

from pwr_platform_tests.superset_bundle import (
    COMPLETE_PERIOD_FILTER,
    NOT_DATE_FILTERED,
    Chart,
    charts,
    dashboards,
)

ALL_CHARTS = sorted(charts().values(), key=lambda c: c.stem)
DATE_SCOPED_OUT = {
    c.config["uuid"] for d in dashboards() for f in d.native_filters() if f.is_time for c in f.charts_excluded
}


@pytest.mark.parametrize("chart", ALL_CHARTS, ids=lambda c: c.stem)
def test_every_chart_declares_its_time_column_and_temporal_filter(chart: Chart):
    if chart.config["uuid"] in DATE_SCOPED_OUT:
        # the only way out: excluded from the dashboards' date filter, with the reason shown to users
        assert not chart.temporal_filters()
        assert NOT_DATE_FILTERED in chart.config["description"], chart.name
        return
    temporal = chart.temporal_filters()
    assert len(temporal) == 1, f"{chart.stem}: needs exactly one TEMPORAL_RANGE adhoc filter"
    column = temporal[0]["subject"]
    assert temporal[0]["comparator"] == "No filter"  # the dashboard's date range fills it in
    assert chart.params.get("granularity_sqla") == column, chart.stem
    declared = chart.column(column)
    assert declared and declared["is_dttm"], f"{chart.stem}: {column} is not a time column of its dataset"
    assert chart.dataset["main_dttm_col"], (
        f"{chart.stem}: dataset {chart.dataset['table_name']} has no main_dttm_col"
    )
    if chart.params.get("x_axis") and (chart.column(chart.params["x_axis"]) or {}).get("is_dttm"):
        assert chart.params["x_axis"] == column, f"{chart.stem}: the date range must act on the x axis"


@pytest.mark.parametrize("chart", ALL_CHARTS, ids=lambda c: c.stem)
def test_trend_charts_leave_out_the_period_in_progress(chart: Chart):
    """A time series bucketed by day / week / month drops the running period (or says 'to date')."""
    x_axis = chart.params.get("x_axis")
    is_trend = bool(
        x_axis and (chart.column(x_axis) or {}).get("is_dttm") and chart.params.get("time_grain_sqla")
    )
    if not is_trend or "to date" in chart.name or "per-event figure" in chart.config["description"]:
        return
    complete = [
        f
        for f in chart.params["adhoc_filters"]
        if f.get("filterOptionName", "").startswith(COMPLETE_PERIOD_FILTER)
        and f.get("operator") == "IS TRUE"
        and "pwr_agg.reporting_periods" in (chart.column(f["subject"]) or {}).get("description", "")
    ]
    assert complete, f"{chart.stem}: trend chart draws the period in progress"
    assert "Complete" in chart.config["description"] or "complete" in chart.config["description"]


@pytest.mark.parametrize("dashboard", dashboards(), ids=lambda d: d.slug)
def test_native_filter_scopes_are_honest(dashboard):
    """chartsInScope = every chart of the dashboard minus scope.excluded, and a select filter is only
    in scope of charts whose dataset has its column (else Superset silently ignores it)."""
    filters = dashboard.native_filters()
    assert any(f.is_time for f in filters), f"{dashboard.slug} has no Date range filter"
    for f in filters:
        in_scope = sorted(i for i, c in dashboard.charts.items() if c in f.charts_in_scope)
        assert sorted(f.config["chartsInScope"]) == in_scope, (dashboard.slug, f.name)
        assert set(f.config["scope"]["excluded"]) <= set(dashboard.charts), (dashboard.slug, f.name)
        if f.is_time:
            continue
        for chart in f.charts_in_scope:
            assert chart.column(f.column), f"{dashboard.slug}: {f.name} filter cannot act on {chart.stem}"
        for chart in f.charts_excluded:
            assert f"not narrowed by the {f.name} filter".lower() in chart.config["description"].lower(), (
                f"{chart.stem} is outside the {f.name} filter without saying why"
            )
