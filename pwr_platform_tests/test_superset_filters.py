"""Every native filter, applied through the UI, acts on every chart in its scope with SQL's numbers.

Generic over the bundle: for every dashboard, every native filter in its YAML and every chart
that filter's scope names (``superset_bundle``), so a dashboard or chart added later is covered
without editing this file. In Debian's Chromium the test sets the filter the way a user does
(Date range "Last week" and a custom range; one member; one event type; one Dota league; one
Dota player), presses Apply, and
catches the chart-data request each chart in scope sends. For each it asserts:

1. the request carries the filter (the range as ``time_range`` with a TEMPORAL_RANGE filter on
   the chart's time column for Superset to apply it to, or ``<column> IN [value]``) — a chart
   that ignores the filter fails here;
2. the numbers are the warehouse's: the captured request is replayed to Superset without its
   front-end post-processing (pivot, rolling, …), and the raw rows must equal the test's own SQL
   for that chart (``chart_sql``: dataset SQL + saved metric expressions + the chart's own
   filters) with the filter's condition added, and differ from the unfiltered SQL — so a filter
   that reached the request but not the query fails too.

The drill-downs (Member Profile, Event detail) always show one member / event, chosen by a
required filter: their other filters (Date range; Event detail's Event type) are set on top of
the member / event the page opens on, and the test's SQL holds that member / event too (read from
each chart's request); one of the two settings of each filter must change each chart's rows.

Screenshots of each dashboard unfiltered and filtered go to the test's tmp dir and to
``.pwr/test-artifacts/superset/filters/``.
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import yaml

from pwr_platform.runtime.superset_service import ASSETS_DIR
from pwr_platform_tests.conftest import REPO_ROOT
from pwr_platform_tests.superset_bundle import (
    Chart,
    Dashboard,
    NativeFilter,
    chart_sql,
    dashboards,
    sql_literal,
)
from pwr_platform_tests.superset_support import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    RunningSuperset,
    log_in,
    open_dashboard,
    wait_for_charts,
)

pytestmark = [pytest.mark.superset, pytest.mark.browser, pytest.mark.timeout(1200)]

ARTIFACTS = REPO_ROOT / ".pwr" / "test-artifacts" / "superset" / "filters"


# ---------------------------------------------------------------------------- values to filter by
def _sql(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


MEMBER_LABEL = "pwr_agg.member_label(m.display_name, m.username, m.member_id)"


def _busiest_member(url: str) -> str:
    """The member with the most voice time, as the Member filter names them: on every member chart."""
    return _sql(
        url,
        f"SELECT {MEMBER_LABEL} FROM pwr_agg.member_voice_daily d JOIN pwr_core.members m USING (member_id) "
        "GROUP BY m.member_id ORDER BY sum(d.total_voice_seconds) DESC, 1 LIMIT 1",
    )[0][0]


def _commonest_event_types(url: str, n: int) -> list[str]:
    return [
        t
        for (t,) in _sql(
            url,
            "SELECT event_type FROM pwr_agg.event_success WHERE event_type IS NOT NULL "
            f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {int(n)}",
        )
    ]


def _busiest_dota_player(url: str) -> str:
    """The linked player with the most league games: on every Dota chart."""
    return _sql(
        url,
        f"SELECT {MEMBER_LABEL} FROM pwr_dota.match_players p "
        "JOIN pwr_dota.player_links l USING (account_id) "
        "JOIN pwr_core.members m ON m.discord_user_id = l.discord_user_id "
        "GROUP BY m.member_id ORDER BY count(*) DESC, 1 LIMIT 1",
    )[0][0]


def _commonest_league(url: str) -> str:
    return _sql(
        url,
        "SELECT l.name FROM pwr_dota.matches m JOIN pwr_dota.leagues l USING (league_id) "
        "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    )[0][0]


def _cases(nf: NativeFilter, url: str, drill_down: bool = False) -> list[dict]:
    """What the test sets a filter to, and the SQL condition each chart in scope must then apply.

    On a drill-down the Event type acts on top of the one event the page shows: the two commonest
    types, so that one of them is not that event's and empties its charts (as SQL does), whichever
    event the page opens on; the charts across events narrow under both."""
    if nf.is_time:
        today = datetime.now(UTC).date()
        custom = (today - timedelta(days=45), today - timedelta(days=15))
        return [
            {"label": "last-week", "range": "Last week", "bounds": (today - timedelta(days=7), today)},
            {"label": "custom", "range": f"{custom[0]} : {custom[1]}", "bounds": custom},
        ]
    if nf.column == "member_label":
        return [{"label": "member", "value": _busiest_member(url)}]
    if nf.column == "event_type":
        types = _commonest_event_types(url, 2 if drill_down else 1)
        assert len(types) == (2 if drill_down else 1), f"the warehouse has too few event types: {types}"
        return [{"label": f"event-type-{n + 1}", "value": t} for n, t in enumerate(types)]
    if nf.column == "league_name":
        return [{"label": "league", "value": _commonest_league(url)}]
    if nf.column == "player":
        return [{"label": "player", "value": _busiest_dota_player(url)}]
    raise AssertionError(f"{nf.dashboard}: no test case for native filter {nf.name} on {nf.column}")


def _condition(chart: Chart, nf: NativeFilter, case: dict) -> str:
    if nf.is_time:
        column = chart.temporal_filters()[0]["subject"]
        start, end = case["bounds"]
        return f"{column} >= '{start}' AND {column} < '{end}'"
    return f"{nf.column} = {sql_literal(case['value'])}"


# ---------------------------------------------------------------------------- UI actions
def _filter_form(page, nf: NativeFilter):
    """The filter bar's form of one native filter (found by its id, not its position)."""
    return page.locator("form").filter(has=page.locator(f'[id="filter-name-{nf.config["id"]}"]'))


def _apply_filters(page) -> None:
    page.locator('[data-test="filter-bar__apply-button"]').click()


def _choose_range_type(page, popover, label: str) -> None:
    """Pick the popover's Range type (retried: on a loaded machine the first click can land
    before the dropdown has opened)."""
    range_type = popover.locator('[data-test="Range type"]')
    for _ in range(5):
        # short timeouts: a popover that closed is reopened by _set_date_range, not waited for
        if range_type.locator(".ant-select-selection-item").inner_text(timeout=10_000).strip() == label:
            return
        range_type.click(timeout=10_000)
        option = page.locator(".ant-select-item-option:visible", has_text=label).first
        try:
            option.click(timeout=5_000)
        except Exception:  # noqa: BLE001 - the dropdown was not open yet: try again
            page.keyboard.press("Escape")
        page.wait_for_timeout(300)
    raise AssertionError(f"could not set the Range type to {label}")


def _set_date_range(page, nf: NativeFilter, case: dict, attempts: int = 4) -> None:
    """Set the Date range through its popover, as a person does. Tried afresh when the popover
    closes under the pointer: the filter bar re-renders while the dashboard's first queries
    return, and on a busy machine that can close a popover just opened (seen in full runs; a
    person would open it again). Nothing is applied until the popover's own Apply, so a retry
    never leaves half a filter behind."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(1, attempts + 1):
        try:
            _fill_date_range(page, nf, case)
            break
        except PlaywrightTimeout:
            if attempt == attempts:
                raise
            page.keyboard.press("Escape")  # close whatever is half open
            page.wait_for_timeout(1_000)
    _apply_filters(page)


def _fill_date_range(page, nf: NativeFilter, case: dict) -> None:
    _filter_form(page, nf).locator('[data-test="time-range-trigger"]').click()
    popover = page.locator(".ant-popover:visible").last
    popover.locator('[data-test="Range type"]').wait_for(state="visible", timeout=10_000)
    if case["range"] == "Last week":
        _choose_range_type(page, popover, "Last")
        popover.get_by_text("Last week", exact=True).click(timeout=10_000)
    else:
        _choose_range_type(page, popover, "Advanced")
        start, end = (s.strip() for s in case["range"].split(" : "))
        bounds = popover.locator('input[type="text"]')
        bounds.nth(1).wait_for(timeout=10_000)
        bounds.nth(0).fill(start, timeout=10_000)
        bounds.nth(1).fill(end, timeout=10_000)
    popover.locator('[data-test="date-filter-control__apply-button"]').click(timeout=10_000)


def _set_select(page, nf: NativeFilter, case: dict) -> None:
    _filter_form(page, nf).locator(".ant-select-selector").click()
    page.keyboard.type(case["value"])
    page.locator(".ant-select-item-option:visible", has_text=case["value"]).first.click()
    page.keyboard.press("Escape")
    _apply_filters(page)


def _clear_all(page) -> None:
    """Clear all (Superset applies a clear at once; older versions need Apply as well)."""
    page.locator('[data-test="filter-bar__clear-button"]').click()
    page.wait_for_timeout(500)
    if page.locator('[data-test="filter-bar__apply-button"]').is_enabled():
        _apply_filters(page)


# ---------------------------------------------------------------------------- request checks
def _carries(query: dict, chart: Chart, nf: NativeFilter, case: dict) -> bool:
    filters = query.get("filters", [])
    if nf.is_time:
        # the range rides in time_range; Superset applies it to the query's TEMPORAL_RANGE filter on
        # the chart's time column (a chart without one would read all history: the issue-12 bug)
        column = chart.temporal_filters()[0]["subject"]
        on_column = any(f["op"] == "TEMPORAL_RANGE" and f["col"] == column for f in filters)
        return on_column and case["range"] in (
            query.get("time_range"),
            *(f["val"] for f in filters if f["op"] == "TEMPORAL_RANGE"),
        )
    return any(f["col"] == nf.column and f["op"] == "IN" and f["val"] == [case["value"]] for f in filters)


def _norm(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000, 2)
    if isinstance(value, date):
        return round(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000, 2)
    if isinstance(value, (int, float, Decimal)):
        return round(float(value), 2)
    return value


def _replayed_rows(superset: RunningSuperset, body: dict) -> list[list[dict]]:
    """The captured request sent again without post-processing: the rows the query returned."""
    replay = copy.deepcopy(body)
    for query in replay["queries"]:
        query["post_processing"] = []
    replay["result_type"] = "full"
    replay["result_format"] = "json"
    replay.pop("force", None)
    results = superset.client().post("/api/v1/chart/data", replay)["result"]
    assert all(r["status"] == "success" for r in results), results
    return [r["data"] for r in results]


def _compare(superset: RunningSuperset, chart: Chart, body: dict, where: list[str]) -> tuple[list, list]:
    """(rows Superset returned, rows the test's SQL gives) for every query of the chart, normalized."""
    got_all, want_all = [], []
    for index, data in enumerate(_replayed_rows(superset, body)):
        if index > 1 or (index == 1 and chart.params.get("viz_type") != "mixed_timeseries"):
            break  # extra queries (totals rows) are not what the chart draws
        sql, groups, metrics = chart_sql(chart, where, query_b=index == 1)
        query = body["queries"][index]
        labels = [
            c if isinstance(c, str) else c.get("label", c.get("sqlExpression")) for c in query["columns"]
        ]
        if chart.params.get("query_mode") != "raw":
            labels += [m if isinstance(m, str) else m["label"] for m in query["metrics"]]
        got_all.append(sorted((tuple(_norm(r[k]) for k in labels) for r in data), key=repr))
        want_all.append(sorted((tuple(map(_norm, r)) for r in _sql(superset.warehouse_url, sql)), key=repr))
    return got_all, want_all


def _has_series_limit(chart: Chart) -> bool:
    return bool(chart.params.get("series_limit") or chart.params.get("limit"))


def _required(nf: NativeFilter) -> bool:
    """A select filter that must hold a value (a drill-down's one member or event)."""
    return not nf.is_time and bool(nf.config.get("controlValues", {}).get("enableEmptyFilter"))


def _required_conditions(dashboard: Dashboard, chart: Chart, query: dict) -> list[str]:
    """SQL conditions of the dashboard's required select filters (a drill-down's one member or
    event) on ``chart``, with the value the page holds, read from the chart's own request: the
    filter under test acts on top of them, so the test's SQL must hold them too."""
    conditions = []
    for nf in dashboard.native_filters():
        if not _required(nf) or chart not in nf.charts_in_scope:
            continue
        (value,) = next(
            f["val"] for f in query.get("filters", []) if f["col"] == nf.column and f["op"] == "IN"
        )
        conditions.append(f"{nf.column} = {sql_literal(value)}")
    return conditions


def _check_chart(
    superset, chart: Chart, nf: NativeFilter, case: dict, body: dict | None, dashboard: Dashboard
) -> list[str]:
    """Problems of one chart under one filter setting (empty when it obeys the filter exactly),
    and whether the setting changes the chart's SQL rows at all."""
    if body is None:
        return [f"{chart.name}: sent no chart-data request after {nf.name} = {case['label']}"], True
    if nf.is_time and not chart.temporal_filters():
        return [f"{chart.name}: has no time column for {nf.name} to act on"], True
    problems = []
    for index, query in enumerate(body["queries"][:2]):
        drawn = index == 0 or chart.params.get("viz_type") == "mixed_timeseries"
        if drawn and not _carries(query, chart, nf, case):
            problems.append(
                f"{chart.name}: query {index} does not carry {nf.name} = {case['label']}: "
                f"filters {query.get('filters')}, time_range {query.get('time_range')!r}"
            )
    if problems:
        return problems, True
    required = _required_conditions(dashboard, chart, body["queries"][0])
    got, want = _compare(superset, chart, body, [_condition(chart, nf, case), *required])
    _, unfiltered = _compare(superset, chart, body, required)
    for index, (g, w) in enumerate(zip(got, want, strict=True)):
        if _has_series_limit(chart):
            if not set(g) <= set(w) or (w and not g):  # the top N series of SQL's rows
                problems.append(f"{chart.name}[{index}]: {nf.name}={case['label']}: rows not all in SQL's")
        elif g != w:
            problems.append(f"{chart.name}[{index}]: {nf.name}={case['label']}: chart {g[:5]} != SQL {w[:5]}")
    return problems, want != unfiltered


# ---------------------------------------------------------------------------- the test
def _capture(page) -> dict[int, dict]:
    """slice_id -> the newest chart-data request body, filled as the page sends them."""
    bodies: dict[int, dict] = {}

    def on_request(request):
        if "/api/v1/chart/data" in request.url and request.method == "POST":
            body = json.loads(request.post_data or "{}")
            slice_id = (body.get("form_data") or {}).get("slice_id")
            if slice_id is not None:
                bodies[slice_id] = body

    page.on("request", on_request)
    return bodies


def _wait_for_requests(page, bodies: dict, wanted: set[int], timeout_s: float = 60) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
    while not wanted <= set(bodies) and datetime.now(UTC) < deadline:
        page.wait_for_timeout(250)


def _exercise(superset: RunningSuperset, boards: list[Dashboard], shots: Path, *, only_first_case=False):
    """Set every native filter of ``boards`` through the UI; returns (problems, checks per filter)."""
    from playwright.sync_api import sync_playwright

    ids = {c["slice_name"]: c["id"] for c in superset.client().list_all("chart", ["id", "slice_name"])}
    problems: list[str] = []
    checked: dict[str, int] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            log_in(page, superset)
            bodies = _capture(page)
            for dashboard in boards:
                open_dashboard(page, superset, dashboard.slug, len(dashboard.charts))
                page.screenshot(path=str(shots / f"{dashboard.slug}-unfiltered.png"), full_page=True)
                drill_down = dashboard.slug in DRILL_DOWNS
                for nf in dashboard.native_filters():
                    if _required(nf):
                        continue  # a drill-down's one member / event: test_superset_drilldowns.py
                    changed: dict[str, bool] = {}
                    cases = _cases(nf, superset.warehouse_url, drill_down)
                    for case in cases[: 1 if only_first_case else None]:
                        bodies.clear()
                        try:
                            (_set_date_range if nf.is_time else _set_select)(page, nf, case)
                        except Exception:
                            page.screenshot(path=str(shots / f"{dashboard.slug}-FAILED-{case['label']}.png"))
                            raise
                        _wait_for_requests(page, bodies, {ids[c.name] for c in nf.charts_in_scope})
                        wait_for_charts(page, len(dashboard.charts))
                        name = f"{dashboard.slug}-{nf.name.lower().replace(' ', '-')}-{case['label']}.png"
                        page.screenshot(path=str(shots / name), full_page=True)
                        for chart in nf.charts_in_scope:
                            body = bodies.get(ids[chart.name])
                            found, changes = _check_chart(superset, chart, nf, case, body, dashboard)
                            problems += found
                            changed[chart.name] = changed.get(chart.name, False) or changes
                            if not changes and not drill_down:
                                problems.append(
                                    f"{chart.name}: {nf.name}={case['label']} changes nothing in SQL: not a test"
                                )
                            key = f"{dashboard.slug}/{nf.name}"
                            checked[key] = checked.get(key, 0) + 1
                        if drill_down:  # "Clear all" would clear its required filter too
                            open_dashboard(page, superset, dashboard.slug, len(dashboard.charts))
                        else:
                            _clear_all(page)
                            wait_for_charts(page, len(dashboard.charts))
                    # one member / event may lie wholly inside one range (an event of this week
                    # and "Last week"): on a drill-down one of the ranges must change each chart
                    problems += [
                        f"{name}: no {nf.name} setting changes anything in SQL: not a test"
                        for name, was in changed.items()
                        if not was
                    ]
        finally:
            browser.close()
    return problems, checked


# Dashboards whose every filter can be cleared. Member Profile and Event detail always show one
# member / event (a required filter, so "unfiltered" does not exist there): their Member / Event
# filter is driven through every chart by test_superset_drilldowns.py; their other filters (Date
# range, Event detail's Event type) are driven here on top of the member / event the page opens on
# (test_drill_down_filters_act_on_every_chart_in_scope_with_sqls_numbers).
DRILL_DOWNS = {"member-profile", "event-detail"}
BROWSED = [d for d in dashboards() if d.slug not in DRILL_DOWNS]
DRILL_DOWN_BOARDS = [d for d in dashboards() if d.slug in DRILL_DOWNS]


def _exercise_keeping_screenshots(superset: RunningSuperset, boards: list[Dashboard], tmp_path: Path):
    """``_exercise``, its screenshots copied to ARTIFACTS even when it fails."""
    try:
        problems, checked = _exercise(superset, boards, tmp_path)
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for shot in tmp_path.glob("*.png"):
            shutil.copy(shot, ARTIFACTS / shot.name)
    print(f"\nchart checks per dashboard/filter: {checked}; screenshots in {tmp_path} and {ARTIFACTS}")
    return problems, checked


def test_native_filters_act_on_every_chart_in_scope_with_sqls_numbers(
    superset: RunningSuperset, tmp_path: Path
):
    problems, checked = _exercise_keeping_screenshots(superset, BROWSED, tmp_path)
    expected = {f"{d.slug}/{f.name}" for d in BROWSED for f in d.native_filters() if f.charts_in_scope}
    assert set(checked) == expected
    assert sum(checked.values()) >= sum(len(f.charts_in_scope) for d in BROWSED for f in d.native_filters())
    assert not problems, "\n".join(problems)


def test_drill_down_filters_act_on_every_chart_in_scope_with_sqls_numbers(
    superset: RunningSuperset, tmp_path: Path
):
    """Member Profile and Event detail: every filter but the required member / event (the Date
    range; Event detail's Event type) set as a person does, on the member / event the dashboard
    opens on; every chart in its scope carries it and shows SQL's numbers for that member / event
    and that setting (and one of the settings differs from the member / event alone)."""
    problems, checked = _exercise_keeping_screenshots(superset, DRILL_DOWN_BOARDS, tmp_path)
    optional = [(d, f) for d in DRILL_DOWN_BOARDS for f in d.native_filters() if not _required(f)]
    assert {f"{d.slug}/{f.name}" for d, f in optional} == set(checked)
    assert {f.name for _, f in optional} == {"Date range", "Event type"}
    # two ranges or two event types, every chart in scope
    assert sum(checked.values()) == sum(2 * len(f.charts_in_scope) for _, f in optional)
    assert not problems, "\n".join(problems)


def test_a_chart_that_ignores_the_date_range_is_caught(superset: RunningSuperset, tmp_path: Path):
    """The drill: the issue-12 bug put back into one chart (no temporal filter, no time column),
    imported into the running Superset; the same check must name that chart and only it."""
    tree = tmp_path / "assets"
    shutil.copytree(ASSETS_DIR, tree)
    chart_file = tree / "charts" / "voice_total_hours.yaml"
    config = yaml.safe_load(chart_file.read_text())
    config["params"]["adhoc_filters"] = [
        f for f in config["params"]["adhoc_filters"] if f.get("operator") != "TEMPORAL_RANGE"
    ]
    config["params"].pop("granularity_sqla")
    chart_file.write_text(yaml.safe_dump(config, sort_keys=False))
    broken = next(d for d in dashboards(tree) if d.slug == "voice-activity-overview")
    broken = Dashboard(
        broken.slug,
        broken.title,
        {
            **broken.config,
            "metadata": {
                **broken.config["metadata"],
                "native_filter_configuration": [
                    f
                    for f in broken.config["metadata"]["native_filter_configuration"]
                    if f["filterType"] == "filter_time"
                ],
            },
        },
        broken.charts,
    )
    try:
        superset.import_bundle(tree)
        problems, _ = _exercise(superset, [broken], tmp_path, only_first_case=True)
    finally:
        superset.import_bundle()
    assert problems and all(p.startswith(f"{config['slice_name']}:") for p in problems), problems
