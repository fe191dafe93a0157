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
    TEMPORAL_RANGE,
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
    x_axis = chart.params.get("x_axis")
    if x_axis and (chart.column(x_axis) or {}).get("is_dttm"):
        # Superset applies a dashboard's date range to a time series' x axis, whatever column the
        # chart's own TEMPORAL_RANGE filter names
        assert x_axis == column, f"{chart.stem}: the date range must act on the x axis"
        if _draws_complete_periods(chart):
            wanted = PERIOD_END[chart.params["time_grain_sqla"]]
            assert column == wanted, f"{chart.stem}: the date range must select whole periods by {wanted}"
    for f in chart.params.get("adhoc_filters_b", []):  # a mixed chart's second query: the same range
        if f.get("operator") == TEMPORAL_RANGE:
            assert f["subject"] == column, f"{chart.stem}: query B filters {f['subject']}, not {column}"


# A trend by week or month is drawn and filtered by the period's last day (truncated to the week
# or month, so its points still sit at the period's start), so a range holds whole periods (a week
# is in a range when it ends in it): Superset's "Last week" is the 7 days before today, which
# always hold one Monday, the start of the week in progress — by its start, a weekly chart showed
# nothing on six days of seven. By its last day it shows the last complete week.
PERIOD_END = {"P1W": "week_end_date", "P1M": "month_end_date"}
PERIOD_TABLES = {"week_start_date": "week_end_date", "month_start_date": "month_end_date"}


def _draws_complete_periods(chart: Chart) -> bool:
    return chart.params.get("time_grain_sqla") in PERIOD_END and any(
        f.get("filterOptionName", "").startswith(COMPLETE_PERIOD_FILTER)
        for f in chart.params["adhoc_filters"]
    )


@pytest.mark.parametrize("chart", ALL_CHARTS, ids=lambda c: c.stem)
def test_weekly_and_monthly_tables_are_filtered_by_whole_periods(chart: Chart):
    """Every chart over a table with a row per week or month (a member's week, the monthly status)
    takes the date range on the period's last day, like the trend charts: "Last month" shows the
    last complete month, not the one that began a few days ago."""
    temporal = chart.temporal_filters()
    period_start = chart.dataset["main_dttm_col"]
    if not temporal or period_start not in PERIOD_TABLES:
        return
    wanted = PERIOD_TABLES[period_start]
    assert temporal[0]["subject"] == wanted, f"{chart.stem}: filter by {wanted}, not {temporal[0]['subject']}"
    declared = chart.column(wanted)
    assert declared and declared["is_dttm"] and "whole" in declared["description"], chart.stem


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
