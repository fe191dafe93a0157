"""Member Profile and Event detail: drill-downs opened from table rows in a real browser.

The links are SQL functions in the warehouse (migration 0010): their URL and HTML are checked for
any name first (no Superset needed). Then, on the same real Superset + Chromium set-up as
the other Superset tests (session fixtures in ``superset_support.py``: ``pwr simulate`` + every asset through Dagster, gunicorn,
bundle import): a row's link is clicked on Member Engagement / Event Performance, the drill-down
dashboard opens with that member / event selected, and what every chart received from Superset
(its chart-data responses, captured in the browser) is compared with SQL on the warehouse. RSVP
figures are computed here straight from the raw scheduled-event records, not from the dashboard
table. Screenshots land in ``.pwr/test-artifacts/superset/``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from html import unescape
from urllib.parse import parse_qs, urlsplit

import prison
import psycopg
import pytest
from playwright.sync_api import Error as PlaywrightError

from pwr_platform_tests.superset_support import CHROMIUM, CHROMIUM_FLAGS, RunningSuperset, log_in
from pwr_platform_tests.test_superset import SCREENSHOT_DIR

pytestmark = [pytest.mark.superset, pytest.mark.timeout(1500)]

MEMBER_FILTER = "NATIVE_FILTER-member_profile-member"
EVENT_FILTER = "NATIVE_FILTER-event_detail-event"
MEMBER_PROFILE_CHARTS = 11
EVENT_DETAIL_CHARTS = 6


# ---------------------------------------------------------------------------- links (SQL only)
def _href_and_text(link: str) -> tuple[str, str]:
    match = re.fullmatch(r'<a href="([^"]*)">(.*)</a>', link)
    assert match, link
    return unescape(match.group(1)), unescape(match.group(2))


def _preset(slug: str, filter_id: str, column: str, value: str) -> str:
    """The dashboard URL with one select filter preset, encoded by prison (the Rison library Superset decodes it with)."""
    mask = {
        filter_id: {
            "extraFormData": {"filters": [{"col": column, "op": "IN", "val": [value]}]},
            "filterState": {"value": [value]},
            "id": filter_id,
            "ownState": {},
        }
    }
    return f"/superset/dashboard/{slug}/?native_filters={prison.dumps(mask)}"


def _decoded(href: str) -> str:
    parts = urlsplit(href)
    (value,) = parse_qs(parts.query)[
        "native_filters"
    ]  # percent-decoding as the browser's URLSearchParams does
    return f"{parts.path}?native_filters={value}"


def test_member_profile_link_presets_exactly_that_member_for_any_name(warehouse_conn) -> None:
    name = "O'Brien & <Co> 100%! + (ü) #1"
    warehouse_conn.execute(
        "INSERT INTO pwr_core.members (member_id, discord_user_id, first_seen_ts, display_name, username)"
        " VALUES (7, 70, now(), %s, 'obrien')",
        (name,),
    )
    label, link = warehouse_conn.execute(
        "SELECT pwr_agg.member_label(display_name, username, member_id), pwr_agg.member_profile_link(member_id)"
        " FROM pwr_core.members WHERE member_id = 7"
    ).fetchone()
    assert label == f"{name} (@obrien)"
    href, text = _href_and_text(link)
    assert text == name
    assert "<Co>" not in link and "'" not in link  # markup and quotes are escaped in the HTML
    assert not set(href.split("?", 1)[1]) - set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-%="
    )
    assert _decoded(href) == _preset("member-profile", MEMBER_FILTER, "member_label", label)
    # a member without a display name is named by the username alone, and still links
    warehouse_conn.execute(
        "INSERT INTO pwr_core.members (member_id, discord_user_id, first_seen_ts, username) VALUES (8, 80, now(), 'x')"
    )
    assert warehouse_conn.execute("SELECT pwr_agg.member_label(NULL, 'x', 8)").fetchone()[0] == "x"


def test_event_detail_link_presets_exactly_that_event(warehouse_conn) -> None:
    warehouse_conn.execute(
        "INSERT INTO pwr_core.events (event_id, external_event_id, name, scheduled_start_ts, status)"
        " VALUES (42, 'discord:1', 'Scrim vs O''Neil''s \"Team\"', now(), 'completed')"
    )
    label, link = warehouse_conn.execute(
        "SELECT pwr_agg.event_label(name, event_id), pwr_agg.event_detail_link(event_id)"
        " FROM pwr_core.events WHERE event_id = 42"
    ).fetchone()
    assert label == "Scrim vs O'Neil's \"Team\" #42"
    href, text = _href_and_text(link)
    assert text == "Scrim vs O'Neil's \"Team\""
    assert _decoded(href) == _preset("event-detail", EVENT_FILTER, "event_label", label)


# ---------------------------------------------------------------------------- browser
def _sql(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def _ms(ts: datetime | None) -> float | None:
    return None if ts is None else ts.timestamp() * 1000


def _day_ms(day) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000


def _r(value, places: int = 4):
    return None if value is None else round(float(value), places)


class ChartData:
    """Every chart-data response the page receives, by chart name (the last one per chart wins)."""

    def __init__(self, page, chart_names: dict[int, str]) -> None:
        self.names = chart_names
        self.by_chart: dict[str, dict] = {}
        page.on("response", self._on_response)

    def _on_response(self, response) -> None:
        if "/api/v1/chart/data" not in response.url or response.request.method != "POST":
            return
        form = json.loads(response.request.post_data or "{}").get("form_data", {})
        name = self.names.get(form.get("slice_id"))
        if name is None or not response.ok:
            return
        try:
            body = response.json()
        except PlaywrightError:  # the body of a page navigated away from is gone: not this page's chart
            return
        self.by_chart[name] = {"form_data": form, "result": body["result"][0]}

    def clear(self) -> None:
        self.by_chart.clear()

    def wait_for(self, page, names: list[str], applied: dict[str, list[str]], timeout: float = 180) -> None:
        """Until each named chart has data for a request carrying the filter ``applied``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.filter_of(n) == applied for n in names if n in self.by_chart) and set(names) <= set(
                self.by_chart
            ):
                return
            page.wait_for_timeout(500)
        missing = {n: self.filter_of(n) if n in self.by_chart else "no response" for n in names}
        raise AssertionError(f"charts without data for {applied}: {missing}")

    def filter_of(self, name: str) -> dict[str, list[str]]:
        extra = self.by_chart[name]["form_data"].get("extra_form_data", {})
        return {f["col"]: f["val"] for f in extra.get("filters", [])}

    def rows(self, name: str) -> list[dict]:
        return self.by_chart[name]["result"]["data"]


@contextmanager
def _browser(superset: RunningSuperset) -> Iterator:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian chromium missing: `make browser` installs it (apt-get install chromium)"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    names = {c["id"]: c["slice_name"] for c in superset.client().list_all("chart", ["id", "slice_name"])}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            data = ChartData(page, names)
            log_in(page, superset)
            yield page, data
            assert not errors, errors
        finally:
            browser.close()


def _table_links(page, chart_title: str) -> list[tuple[str, str]]:
    """(text, href) of the links in a table chart's rendered rows, top to bottom."""
    tile = page.locator('[data-test="chart-grid-component"]', has_text=chart_title)
    tile.locator("table tbody tr a").first.wait_for(timeout=120_000)
    return [(a.inner_text().strip(), a.get_attribute("href")) for a in tile.locator("table tbody tr a").all()]


def _member_by_link_text(url: str, text: str) -> tuple[int, str]:
    rows = _sql(
        url,
        "SELECT member_id, pwr_agg.member_label(display_name, username, member_id) FROM pwr_core.members"
        " WHERE coalesce(display_name, username, 'member ' || member_id) = %s",
        (text,),
    )
    assert len(rows) == 1, (text, rows)
    return rows[0]


@pytest.mark.browser
def test_member_profile_opens_from_a_table_row_with_numbers_equal_to_sql(superset: RunningSuperset):
    url = superset.warehouse_url
    with _browser(superset) as (page, data):
        # Top members (Voice Activity Overview): every row links to its own member's profile
        page.goto(f"{superset.base_url}/superset/dashboard/voice-activity-overview/")
        for text, href in _table_links(page, "Top members")[:5]:
            member_id, label = _member_by_link_text(url, text)
            assert _decoded(href) == _preset("member-profile", MEMBER_FILTER, "member_label", label)

        page.goto(f"{superset.base_url}/superset/dashboard/member-engagement/")
        for text, href in _table_links(page, "Rising and falling members")[:5]:
            _, label = _member_by_link_text(url, text)
            assert _decoded(href) == _preset("member-profile", MEMBER_FILTER, "member_label", label)
        # the SECOND most engaged member: the first is the profile's default, so landing on the
        # second proves the link, not the default, picked the member
        links = _table_links(page, "Most engaged members right now")
        expected_order = [
            n
            for (n,) in _sql(
                url, "SELECT display_name FROM pwr_agg.member_trend ORDER BY recent_voice_hours DESC"
            )
        ]
        assert [t for t, _ in links[:3]] == expected_order[:3]
        text, _ = links[1]
        member_id, label = _member_by_link_text(url, text)
        data.clear()
        page.locator('[data-test="chart-grid-component"]', has_text="Most engaged members right now").locator(
            "table tbody tr"
        ).nth(1).locator("a").click()
        page.wait_for_url("**/superset/dashboard/member-profile/**", timeout=60_000)
        charts = [
            "About this member",
            "Member's voice hours",
            "Sessions",
            "Events attended",
            "On-time share",
            "Member's voice hours per week",
            "Engagement trend (4-week average)",
            "Engagement level by week",
            "Favourite channels",
            "Favourite hours of the day",
            "Monthly active status",
        ]
        assert len(charts) == MEMBER_PROFILE_CHARTS
        data.wait_for(page, charts, {"member_label": [label]})
        page.wait_for_timeout(2000)
        page.screenshot(path=str(SCREENSHOT_DIR / "member-profile-drilled.png"), full_page=True)
        assert label in page.locator('[data-test="filter-bar"]').inner_text()

    def one(query: str):
        return _sql(url, query, (member_id,))

    (about,) = data.rows("About this member")
    assert about["member_label"] == label
    ((hours,),) = one(
        "SELECT sum(total_voice_seconds) / 3600.0 FROM pwr_agg.member_engagement_weekly WHERE member_id = %s"
    )
    assert _r(data.rows("Member's voice hours")[0]["voice_hours"]) == _r(hours) > 0
    ((sessions,),) = one("SELECT sum(total_sessions) FROM pwr_agg.member_voice_daily WHERE member_id = %s")
    assert data.rows("Sessions")[0]["sessions"] == sessions > 0
    ((attended, on_time),) = one(
        "SELECT count(*), avg(CASE WHEN joined_on_time THEN 1.0 ELSE 0.0 END)"
        " FROM pwr_core.event_attendance WHERE member_id = %s"
    )
    assert data.rows("Events attended")[0]["attendances"] == attended > 0
    assert _r(data.rows("On-time share")[0]["on_time_share"]) == _r(on_time)

    weekly = one(
        "SELECT week_start_date, total_voice_seconds / 3600.0, round(total_voice_seconds / 3600.0, 2) + events_attended,"
        " pwr_agg.engagement_level(total_voice_seconds, events_attended), events_attended"
        " FROM pwr_agg.member_engagement_weekly WHERE member_id = %s ORDER BY 1"
    )
    # the two weekly trend charts leave out the week in progress (pwr_agg.reporting_periods)
    ((current_week,),) = _sql(url, "SELECT current_week_start FROM pwr_agg.reporting_periods")
    complete = [row for row in weekly if row[0] < current_week]
    assert [
        (r["week_end_date"], _r(r["voice_hours"])) for r in data.rows("Member's voice hours per week")
    ] == [(_day_ms(w), _r(h)) for w, h, *_ in complete]
    activity = [float(a) for _, _, a, _, _ in complete]
    rolling = [
        sum(activity[max(0, i - 3) : i + 1]) / len(activity[max(0, i - 3) : i + 1])
        for i in range(len(activity))
    ]
    assert [_r(r["activity"]) for r in data.rows("Engagement trend (4-week average)")] == [
        _r(v) for v in rolling
    ]
    assert [
        (r["week_start_date"], r["engagement_level"], r["events_attended"])
        for r in data.rows("Engagement level by week")
    ] == [(_day_ms(w), level, events) for w, _, _, level, events in reversed(weekly)]
    assert {r["engagement_level"] for r in data.rows("Engagement level by week")} <= {
        "Core",
        "Regular",
        "Casual",
    }

    channels = one(
        "SELECT coalesce(c.channel_label, '#' || h.discord_channel_id), sum(h.voice_seconds) / 3600.0"
        " FROM pwr_agg.member_voice_habits h LEFT JOIN pwr_core.voice_channels c USING (discord_channel_id)"
        " WHERE h.member_id = %s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
    )
    assert sorted((r["channel"], _r(r["voice_hours"])) for r in data.rows("Favourite channels")) == sorted(
        (c, _r(h)) for c, h in channels
    )
    # the demo's collector (the simulator) names its channels: the chart shows names, not ids
    assert channels and not [c for c, _ in channels if c.lstrip("#").isdigit()], channels
    by_hour = one(
        "SELECT hour_of_day, sum(voice_seconds) / 3600.0 FROM pwr_agg.member_voice_habits WHERE member_id = %s"
        " GROUP BY 1 ORDER BY 1"
    )
    assert [(r["hour_of_day"], _r(r["voice_hours"])) for r in data.rows("Favourite hours of the day")] == [
        (h, _r(v)) for h, v in by_hour
    ]
    # the hours add up to the member's sessions: same sessions, counted once each
    ((habit_sessions,),) = one("SELECT sum(sessions) FROM pwr_agg.member_voice_habits WHERE member_id = %s")
    ((completed,),) = one(
        "SELECT count(*) FROM pwr_core.voice_sessions WHERE member_id = %s AND is_completed"
    )
    assert habit_sessions == completed
    months = one(
        "SELECT month_start_date, CASE WHEN was_active THEN 'Active' ELSE 'Inactive' END"
        " FROM pwr_agg.member_monthly_status WHERE member_id = %s ORDER BY 1 DESC"
    )
    assert [(r["month_start_date"], r["status"]) for r in data.rows("Monthly active status")] == [
        (_day_ms(m), s) for m, s in months
    ]


RAW_RSVP = """
WITH interest AS (  -- straight from the raw records: the largest positive user_count per Discord event
    SELECT 'discord:' || discord_event_id AS external_event_id,
           max((raw_payload->>'user_count')::int) FILTER (WHERE (raw_payload->>'user_count')::int > 0) AS interested
    FROM pwr_raw.discord_scheduled_events GROUP BY discord_guild_id, discord_event_id
)
SELECT e.event_id, CASE WHEN e.actual_start_ts IS NOT NULL AND e.actual_end_ts IS NOT NULL
                        THEN e.actual_start_ts ELSE e.scheduled_start_ts END AS start_ts,
       i.interested, (SELECT count(*) FROM pwr_core.event_attendance a WHERE a.event_id = e.event_id) AS attended
FROM pwr_core.events e JOIN interest i USING (external_event_id)
WHERE e.status = 'completed'
"""


@pytest.mark.browser
def test_event_detail_opens_from_best_events_with_attendees_and_rsvp_equal_to_sql(superset: RunningSuperset):
    url = superset.warehouse_url
    with _browser(superset) as (page, data):
        page.goto(f"{superset.base_url}/superset/dashboard/event-performance/")
        links = _table_links(page, "Best events by attendance")
        text, href = links[0]
        (event_id, label), *others = _sql(
            url,
            "SELECT event_id, pwr_agg.event_label(name, event_id) FROM pwr_agg.event_success"
            " WHERE name = %s AND attendees = (SELECT max(attendees) FROM pwr_agg.event_success) ORDER BY event_id",
            (text,),
        )
        if others:  # several best events with the same name: the link names which one
            event_id, label = next(
                (i, lab) for i, lab in [(event_id, label), *others] if lab in _decoded(href)
            )
        assert _decoded(href) == _preset("event-detail", EVENT_FILTER, "event_label", label)
        data.clear()
        page.locator('[data-test="chart-grid-component"]', has_text="Best events by attendance").locator(
            "table tbody tr"
        ).first.locator("a").click()
        page.wait_for_url("**/superset/dashboard/event-detail/**", timeout=60_000)
        per_event = ["Event", "Interested (RSVP)", "Came of those interested", "Attendees"]
        across_events = ["Interested vs attended per event", "RSVP conversion per week"]
        assert len(per_event + across_events) == EVENT_DETAIL_CHARTS
        data.wait_for(page, per_event, {"event_label": [label]})
        data.wait_for(page, across_events, {})  # outside the Event filter's scope: all events
        page.wait_for_timeout(2000)
        page.screenshot(path=str(SCREENSHOT_DIR / "event-detail-drilled.png"), full_page=True)
        shown_names = {t for t, _ in _table_links(page, "Attendees")}

    attendees = _sql(
        url,
        "SELECT pwr_agg.member_profile_link(a.member_id), coalesce(m.display_name, m.username), a.first_join_ts,"
        " a.last_leave_ts, round(a.total_voice_seconds / 60.0, 1), CASE WHEN a.joined_on_time THEN 'On time' ELSE 'Late' END"
        " FROM pwr_core.event_attendance a JOIN pwr_core.members m USING (member_id) WHERE a.event_id = %s"
        " ORDER BY a.first_join_ts",
        (event_id,),
    )
    assert len(attendees) >= 2
    got = [
        (
            r["member_link"],
            _ms_or(r["first_join_ts"]),
            _ms_or(r["last_leave_ts"]),
            _r(r["minutes_present"]),
            r["arrival"],
        )
        for r in data.rows("Attendees")
    ]
    assert got == [(link, _ms(f), _ms(ll), _r(mins), arr) for link, _, f, ll, mins, arr in attendees]
    assert shown_names == {name for _, name, *_ in attendees}  # and the browser shows those members
    (summary,) = data.rows("Event")
    assert summary["attendees"] == len(attendees)

    rsvp = {row[0]: row for row in _sql(url, RAW_RSVP)}
    _, _, interested, attended = rsvp[event_id]
    assert interested is not None and interested > 0
    assert data.rows("Interested (RSVP)")[0]["interested"] == interested
    assert _r(data.rows("Came of those interested")[0]["conversion"]) == _r(attended / interested)

    link_ids = [
        int(re.search(r"%23(\d+)%27", r["event_link"]).group(1))
        for r in data.rows("Interested vs attended per event")
    ]
    got_per_event = sorted(
        (i, r["interested"], r["attendees"], _r(r["conversion_rate"]))
        for i, r in zip(link_ids, data.rows("Interested vs attended per event"), strict=True)
    )
    assert got_per_event == sorted(
        (i, n, a, _r(None if n is None else round(a / n, 4))) for i, (_, _, n, a) in rsvp.items()
    )
    assert len(got_per_event) == len(rsvp) > 20
    weeks: dict[float, list[int]] = {}
    ((current_week_start,),) = _sql(
        url, "SELECT current_week_start::timestamptz FROM pwr_agg.reporting_periods"
    )  # the weekly trend leaves out the week in progress
    for _, start, n, a in rsvp.values():
        if start >= current_week_start:
            continue
        week = start.astimezone(UTC)
        monday = (
            datetime(week.year, week.month, week.day, tzinfo=UTC).timestamp() * 1000
            - week.weekday() * 86_400_000
        )
        acc = weeks.setdefault(monday, [0, 0])
        if n is not None:
            acc[0] += a
            acc[1] += n
    # drawn by each week's last day truncated to the week: points at the Monday, as before
    assert [(r["week_end_date"], _r(r["conversion"])) for r in data.rows("RSVP conversion per week")] == [
        (w, _r(a / n) if n else None) for w, (a, n) in sorted(weeks.items())
    ]


def _ms_or(value):
    return None if value is None else float(value)
