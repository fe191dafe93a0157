"""Superset end to end: one real Superset (gunicorn) on a populated test warehouse (``superset_support``).

Starts Superset exactly as ``pwr superset start`` does (generated secrets, metadata set-up,
gunicorn on 127.0.0.1, bundle import through the REST API), on a warehouse built the way users
get one: ``pwr simulate`` (120 members, 90 days ending today) and every asset materialized through
Dagster. Then: the dashboards in Debian's
Chromium (login form, every chart rendered, no errors, no empty charts, screenshots), the
dashboards' answers through the chart-data API compared with SQL, and import / export
round trips. Screenshots land in ``.pwr/test-artifacts/superset/``.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from pwr_platform.bi import bundle
from pwr_platform.bi.superset_api import SupersetClient
from pwr_platform.runtime.superset_service import ASSETS_DIR
from pwr_platform_tests.conftest import REPO_ROOT
from pwr_platform_tests.superset_support import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    RunningSuperset,
    chart_state,
    log_in,
    open_dashboard,
)

pytestmark = [pytest.mark.superset, pytest.mark.timeout(600)]

SCREENSHOT_DIR = REPO_ROOT / ".pwr" / "test-artifacts" / "superset"
DASHBOARDS = {
    "voice-activity-overview": 6,
    "event-performance": 8,
    "member-engagement": 7,
    "early-retention-snapshot": 4,
    "member-profile": 11,
    "event-detail": 6,
    "dota-league-insights": 6,
}


def _bundle_counts() -> dict[str, int]:
    """Objects the committed bundle holds, per kind: what an import must leave in Superset."""
    return {
        kind: sum(1 for _ in (ASSETS_DIR / kind).rglob("*.yaml"))
        for kind in ("databases", "datasets", "charts", "dashboards")
    }


def _sql(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def _num(value) -> float:
    return float(value)


def _share(value) -> float:
    """A share rounded for comparison; -1 stands for NULL (no attendees) so rows still sort."""
    return -1.0 if value is None else round(float(value), 4)


def _chart_ids(client: SupersetClient) -> dict[str, int]:
    return {c["slice_name"]: c["id"] for c in client.list_all("chart", ["id", "slice_name"])}


def _chart_rows(client: SupersetClient, chart_name: str) -> list[dict]:
    chart_id = _chart_ids(client)[chart_name]
    body = client.get(f"/api/v1/chart/{chart_id}/data/", format="json", type="full")
    assert body["result"][0]["status"] == "success", body
    return body["result"][0]["data"]


def _ranked(rows: list[tuple[str, float]]) -> list[tuple[float, str]]:
    """Order-insensitive within ties: sorted by value descending, then name."""
    return sorted(((-round(v, 2), n) for n, v in rows))


# ---------------------------------------------------------------------------- answers via API
def test_most_engaged_members_now_match_sql(superset: RunningSuperset):
    rows = _chart_rows(superset.client(), "Most engaged members right now")
    got = [(r["display_name"], _num(r["recent_voice_hours"])) for r in rows]
    expected = [
        (name, _num(h))
        for name, h in _sql(
            superset.warehouse_url,
            "SELECT display_name, recent_voice_hours FROM pwr_agg.member_trend ORDER BY recent_voice_hours DESC",
        )
    ]
    assert len(got) == len(expected) > 10
    assert [round(v, 2) for _, v in got] == [round(v, 2) for _, v in expected]  # chart order = SQL order
    assert _ranked(got) == _ranked(expected)
    assert got[0][1] == max(v for _, v in expected)


def test_most_successful_events_match_sql(superset: RunningSuperset):
    rows = _chart_rows(superset.client(), "Best events by attendance")
    got = [(r["name"], _num(r["attendees"])) for r in rows]
    expected = [
        (name, _num(n))
        for name, n in _sql(
            superset.warehouse_url,
            "SELECT name, attendees FROM pwr_agg.event_success ORDER BY attendees DESC",
        )
    ]
    assert [v for _, v in got] == [v for _, v in expected]
    assert _ranked(got) == _ranked(expected)
    # and each event's figures are the warehouse's (an event nobody attended has no on-time share)
    chart = sorted((r["name"], int(r["attendees"]), _share(r["on_time_share"])) for r in rows)
    sql = sorted(
        (n, int(a), _share(s))
        for n, a, s in _sql(
            superset.warehouse_url, "SELECT name, attendees, on_time_share FROM pwr_agg.event_success"
        )
    )
    assert chart == sql


def test_engagement_trend_matches_sql(superset: RunningSuperset):
    rows = _chart_rows(superset.client(), "Rising and falling members")
    got = sorted((r["display_name"], r["trend_label"], round(_num(r["voice_hours_change"]), 2)) for r in rows)
    expected = sorted(
        (n, t, round(_num(c), 2))
        for n, t, c in _sql(
            superset.warehouse_url,
            "SELECT display_name, trend_label, voice_hours_change FROM pwr_agg.member_trend "
            "WHERE trend_label IN ('rising', 'falling')",
        )
    )
    assert got == expected
    assert {t for _, t, _ in got} == {"rising", "falling"}
    changes = [_num(r["voice_hours_change"]) for r in rows]
    assert changes == sorted(changes, reverse=True)  # biggest riser first, biggest faller last


def test_charts_show_member_names_not_ids(superset: RunningSuperset):
    rows = _chart_rows(superset.client(), "Most engaged members right now")
    names = {name for (name,) in _sql(superset.warehouse_url, "SELECT display_name FROM pwr_core.members")}
    assert rows and all(r["display_name"] in names for r in rows)
    assert all("member_id" not in r for r in rows)


def test_sqlite_metadata_lets_readers_beside_a_writer(superset: RunningSuperset):
    """The local stack's metadata file is in write-ahead-log mode (superset_config.py), so a
    dashboard's metadata reads never fail with "database is locked" while a thread writes."""
    metadata = superset.settings.superset_home / "superset.db"
    with sqlite3.connect(metadata) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


# ---------------------------------------------------------------------------- browser
@pytest.mark.browser
def test_dashboards_render_in_chromium(superset: RunningSuperset):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian chromium missing: `make browser` installs it (apt-get install chromium)"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    base = superset.base_url
    third_party: list[str] = []
    page_errors: list[str] = []
    timings = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            # any response from outside this server is a leak the CSP should have stopped
            page.on("response", lambda r: third_party.append(r.url) if not r.url.startswith(base) else None)
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            log_in(page, superset)
            for slug, expected_charts in DASHBOARDS.items():
                t0 = time.monotonic()
                open_dashboard(page, superset, slug, expected_charts)
                page.wait_for_timeout(1500)  # let animations settle before the screenshot
                states = chart_state(page)
                timings[slug] = round(time.monotonic() - t0, 1)
                page.screenshot(path=str(SCREENSHOT_DIR / f"{slug}.png"), full_page=True)
                assert len(states) == expected_charts, (slug, states)
                problems = [
                    s for s in states if s["error"] or s["empty"] or not s["rendered"] or s["loading"]
                ]
                assert not problems, f"{slug}: charts with errors / no data / not rendered: {problems}"
        finally:
            browser.close()
    print(f"\ndashboard load times (s): {timings}; screenshots in {SCREENSHOT_DIR}")
    assert not third_party, f"requests left this server: {third_party}"
    assert not page_errors, page_errors


# ---------------------------------------------------------------------------- import / export
def _object_counts(client: SupersetClient) -> dict[str, list[str]]:
    return {
        "databases": [d["database_name"] for d in client.list_all("database", ["database_name"])],
        "datasets": [d["table_name"] for d in client.list_all("dataset", ["table_name"])],
        "charts": [c["slice_name"] for c in client.list_all("chart", ["slice_name"])],
        "dashboards": [d["dashboard_title"] for d in client.list_all("dashboard", ["dashboard_title"])],
    }


def test_importing_twice_leaves_one_copy_of_everything(superset: RunningSuperset):
    counts = superset.import_bundle()  # the fixture imported once already
    objects = _object_counts(superset.client())
    for kind, names in objects.items():
        assert len(names) == counts[kind], (kind, names)
        assert len(set(names)) == len(names), f"duplicate {kind}: {names}"
    assert counts == _bundle_counts()
    assert counts["dashboards"] == len(DASHBOARDS)


def test_chart_edited_in_yaml_is_updated_on_reimport(superset: RunningSuperset, tmp_path: Path):
    edited = tmp_path / "assets"
    shutil.copytree(ASSETS_DIR, edited)
    chart_file = edited / "charts" / "events_best.yaml"
    config = yaml.safe_load(chart_file.read_text())
    config["slice_name"] = "Best events (edited in YAML)"
    config["params"]["row_limit"] = 5
    chart_file.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        superset.import_bundle(edited)
        client = superset.client()
        ids = _chart_ids(client)
        assert "Best events (edited in YAML)" in ids and "Best events by attendance" not in ids
        chart = client.get(f"/api/v1/chart/{ids['Best events (edited in YAML)']}")["result"]
        assert '"row_limit": 5' in chart["params"]
        assert len(_object_counts(client)["charts"]) == _bundle_counts()["charts"]
    finally:
        superset.import_bundle()  # back to the committed bundle for the other tests
    assert "Best events by attendance" in _chart_ids(superset.client())


def test_export_writes_ui_edits_back_to_yaml(superset: RunningSuperset, tmp_path: Path):
    tree = tmp_path / "assets"
    shutil.copytree(ASSETS_DIR, tree)
    client = superset.client()
    chart_id = _chart_ids(client)["Events per week by type"]
    try:
        client.session.put(
            f"{superset.base_url}/api/v1/chart/{chart_id}",
            json={"slice_name": "Events per week (renamed in the UI)"},
            timeout=60,
        ).raise_for_status()
        result = bundle.export_bundle(client, tree)
        assert result == {"written": sum(_bundle_counts().values()), "removed": 0}
        # same file names as the committed tree; only the edited chart differs
        committed = sorted(p.relative_to(ASSETS_DIR) for p in ASSETS_DIR.rglob("*.yaml"))
        assert sorted(p.relative_to(tree) for p in tree.rglob("*.yaml")) == committed
        exported = yaml.safe_load((tree / "charts" / "events_per_week.yaml").read_text())
        assert exported["slice_name"] == "Events per week (renamed in the UI)"
        database = yaml.safe_load((tree / "databases" / "pwr_warehouse.yaml").read_text())
        assert (
            database["sqlalchemy_uri"]
            == yaml.safe_load((ASSETS_DIR / "databases" / "pwr_warehouse.yaml").read_text())["sqlalchemy_uri"]
        )
        # every file still describes the same object (matched by UUID, not by name)
        for path in ASSETS_DIR.rglob("*.yaml"):
            if path.name != "metadata.yaml":
                rel = path.relative_to(ASSETS_DIR)
                assert (
                    yaml.safe_load((tree / rel).read_text())["uuid"]
                    == yaml.safe_load(path.read_text())["uuid"]
                )
    finally:
        superset.import_bundle()
