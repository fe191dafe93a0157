"""Periods read honestly: a warehouse whose data ends just after a week AND month boundary.

``pwr simulate`` ends on Monday 2026-06-01 (the first day of a week and of a month), every asset
is materialized through Dagster, and each trend chart's query — written from the bundle by
``superset_bundle.chart_sql`` (dataset SQL, saved metrics, the chart's own filters) — is run on
it. The running day / week / month must be absent, the last period drawn must not be a collapse,
and "Active vs inactive" must not show June as mostly inactive. The same queries without the
charts' complete-period filters show the collapse, so the filters are what prevents it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest

from pwr_platform_tests.demo_warehouse import materialize_all, scratch_warehouse, simulate
from pwr_platform_tests.superset_bundle import COMPLETE_PERIOD_FILTER, Chart, chart_sql, charts

END = "2026-06-01T21:00:00+00:00"  # a Monday and the 1st: day, week and month all just began
TODAY = date(2026, 6, 1)

PERIOD_CHARTS = sorted(
    (
        c
        for c in charts().values()
        if any(
            f.get("filterOptionName", "").startswith(COMPLETE_PERIOD_FILTER)
            for f in c.params["adhoc_filters"]
        )
    ),
    key=lambda c: c.stem,
)


@pytest.fixture(scope="module")
def boundary_warehouse(
    pg_server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with scratch_warehouse(pg_server_url, template_db, "pwr_test_periods") as url:
        simulate(url, tmp_path_factory.mktemp("home"), members=60, days=70, seed=11, end=END)
        materialize_all(url)
        yield url


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def _without_complete_filters(chart: Chart) -> Chart:
    params = dict(chart.params)
    for key in ("adhoc_filters", "adhoc_filters_b"):
        if key in params:
            params[key] = [
                f for f in params[key] if not f.get("filterOptionName", "").startswith(COMPLETE_PERIOD_FILTER)
            ]
    return Chart(chart.stem, {**chart.config, "params": params}, chart.dataset)


def test_the_period_in_progress_is_the_newest_day_its_week_and_month(boundary_warehouse: str):
    assert _rows(boundary_warehouse, "SELECT * FROM pwr_agg.reporting_periods") == [(TODAY, TODAY, TODAY)]


@pytest.mark.parametrize("chart", PERIOD_CHARTS, ids=lambda c: c.stem)
def test_trend_chart_just_after_a_boundary_ends_with_a_complete_period(boundary_warehouse: str, chart: Chart):
    sql, groups, _ = chart_sql(chart, [])
    shown = _rows(boundary_warehouse, sql)
    assert shown, f"{chart.stem} shows nothing"
    if not (chart.column(chart.params["x_axis"]) or {}).get("is_dttm"):
        return  # not a time series (the cohort heatmap: see the triangle test)
    periods = sorted({r[0] for r in shown})
    assert periods[-1] < TODAY, f"{chart.stem} still draws the period in progress: {periods[-1]}"
    # the fault the filter prevents: where the data already reaches into the period just begun,
    # the same query without the filter draws it
    raw_sql, _, _ = chart_sql(_without_complete_filters(chart), [])
    raw_last = max(r[0] for r in _rows(boundary_warehouse, raw_sql))
    assert raw_last in (periods[-1], TODAY), chart.stem
    if len(groups) == 1 and len(periods) >= 4:  # one value per period: the last is no collapse
        values = {r[0]: r[1] for r in shown}
        typical = statistics.median(values[p] for p in periods[:-1])
        assert values[periods[-1]] >= 0.5 * typical, (
            f"{chart.stem}: last period {values[periods[-1]]} vs {typical}"
        )


# "Last week" / "Last month" as Superset computes them on a Thursday inside the data: the 7 days,
# or the month, before that day. Each holds the start of the period then in progress.
THURSDAY = date(2026, 5, 28)
LAST = {
    "P1W": (date(2026, 5, 21), THURSDAY, date(2026, 5, 18)),  # range, and the one whole week wanted
    "P1M": (date(2026, 4, 28), THURSDAY, date(2026, 4, 1)),
}


@pytest.mark.parametrize(
    "chart", [c for c in PERIOD_CHARTS if c.params.get("time_grain_sqla") in LAST], ids=lambda c: c.stem
)
def test_last_week_and_last_month_show_the_last_whole_period(boundary_warehouse: str, chart: Chart):
    """The dashboards' "Last week" on a weekly trend shows the last complete week, whole (and
    "Last month" the last complete month) — not nothing, and not a few days of a week drawn as if
    they were all of it. The range acts on the chart's date-range column, as Superset applies it."""
    start, end, wanted = LAST[chart.params["time_grain_sqla"]]
    column = chart.temporal_filters()[0]["subject"]
    sql, groups, _ = chart_sql(chart, [f"{column} >= '{start}' AND {column} < '{end}'"])
    shown = _rows(boundary_warehouse, sql)
    everything = _rows(boundary_warehouse, chart_sql(chart, [])[0])
    whole = sorted(r for r in everything if r[0] == wanted)
    assert whole, f"{chart.stem}: the demo data has no {wanted} period to show"
    assert sorted(shown) == whole, (
        f"{chart.stem}: {column} in [{start}, {end}) shows {shown[:4]}, not {whole[:4]}"
    )


def test_without_the_filters_the_running_periods_would_be_drawn(boundary_warehouse: str):
    """The simulated data does reach into Monday 1 June, so the filters above are not vacuous."""
    for stem in (
        "voice_hours_per_day",
        "voice_hours_per_week",
        "engagement_weekly_voice",
        "retention_active_inactive",
    ):
        chart = next(c for c in PERIOD_CHARTS if c.stem == stem)
        raw_sql, _, _ = chart_sql(_without_complete_filters(chart), [])
        assert max(r[0] for r in _rows(boundary_warehouse, raw_sql)) == TODAY, stem


def test_active_vs_inactive_never_shows_the_new_month_as_mostly_inactive(boundary_warehouse: str):
    chart = next(c for c in PERIOD_CHARTS if c.stem == "retention_active_inactive")
    share = {}
    for label, c in (("chart", chart), ("unfiltered", _without_complete_filters(chart))):
        sql, groups, _ = chart_sql(c, [])
        assert groups[1:] == ["status"]
        by_month: dict[date, dict[str, float]] = defaultdict(dict)
        for month, status, members in _rows(boundary_warehouse, sql):
            by_month[month][status] = members
        share[label] = {m: v.get("Active", 0) / sum(v.values()) for m, v in by_month.items()}
    last = max(share["chart"])
    assert last == date(2026, 5, 1)
    assert share["chart"][last] >= 0.5 * statistics.median(share["chart"].values())
    # one day into June, most members have not been in voice yet: that is the false inactivity
    assert share["unfiltered"][TODAY] < 0.5 * share["chart"][last]


def test_cohort_retention_is_a_triangle_from_month_0(boundary_warehouse: str):
    chart = next(c for c in PERIOD_CHARTS if c.stem == "retention_cohorts")
    sql, _, _ = chart_sql(chart, [])
    cells = defaultdict(set)
    for months_since, cohort_label, _ in _rows(boundary_warehouse, sql):
        cells[date.fromisoformat(cohort_label + "-01")].add(months_since)
    first = min(cells)
    assert (
        first
        == _rows(boundary_warehouse, "SELECT min(month_start_date) FROM pwr_agg.member_monthly_status")[0][0]
    )
    for cohort, months in cells.items():
        span = (2026 - cohort.year) * 12 + 5 - cohort.month  # months up to May, the last complete one
        assert months == set(range(span + 1)), (cohort, sorted(months))


def test_engagement_trend_equals_its_definition_over_the_weekly_table(boundary_warehouse: str):
    weekly = _rows(
        boundary_warehouse,
        "SELECT week_start_date, count(*) FILTER (WHERE total_voice_seconds > 0 OR events_attended > 0), "
        "sum(total_voice_seconds) FROM pwr_agg.member_engagement_weekly GROUP BY 1 ORDER BY 1",
    )
    complete = [(w, n, float(s) / 3600) for w, n, s in weekly if w < TODAY]
    trend = _rows(
        boundary_warehouse,
        "SELECT week_start_date, active_members, hours_per_active_member, active_members_wow_change, "
        "active_members_4wk_avg, hours_per_active_member_4wk_avg FROM pwr_agg.engagement_trend "
        "WHERE in_complete_week ORDER BY 1",
    )
    assert [t[0] for t in trend] == [w for w, _, _ in complete]  # every complete week, no partial one
    ratios = [h / n for _, n, h in complete]
    for i, (_week, active, per_member, wow, avg4, per_avg4) in enumerate(trend):
        assert active == complete[i][1]
        assert float(per_member) == pytest.approx(ratios[i], abs=0.006)
        assert wow == (None if i == 0 else active - complete[i - 1][1])
        window = complete[max(0, i - 3) : i + 1]
        assert float(avg4) == pytest.approx(sum(n for _, n, _ in window) / len(window), abs=0.006)
        assert float(per_avg4) == pytest.approx(statistics.mean(ratios[max(0, i - 3) : i + 1]), abs=0.006)
