"""The weekly digest: its figures equal SQL on the week's rows; a week is posted once, then edited.

The warehouse is seeded as for the bot's stats (daily voice, weekly rows, completed events with
attendance); the expected figures are computed here from the daily rows, the attendance and the
members (not from the weekly table the digest reads). The webhook is the local Discord's REST
app, which keeps every post and edit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, build_schedule_context, materialize

from pwr_platform.cli.app import main
from pwr_platform.defs.digest.weekly_digest import weekly_digest, weekly_digest_schedule
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.transforms import digest as digest_text
from pwr_platform_tests.discord_gateway import guild, local_discord
from pwr_platform_tests.test_bot_stats import TODAY, seed
from pwr_platform_tests.test_writer import GUILD

WEEK = date(2026, 11, 9)  # the last finished week before TODAY (Wednesday 2026-11-18)
UTC_ZONE = ZoneInfo("UTC")


def expected_digest(conn: psycopg.Connection, week: date) -> digest_text.Digest:
    start = datetime.combine(week, time(), UTC)
    end = start + timedelta(days=7)

    def voice(first: date) -> tuple[int, set[int]]:
        rows = conn.execute(
            "SELECT member_id, total_voice_seconds FROM pwr_agg.member_voice_daily "
            "WHERE activity_date >= %s AND activity_date < %s",
            (first, first + timedelta(days=7)),
        ).fetchall()
        attendees = {
            r[0]
            for r in conn.execute(
                "SELECT a.member_id FROM pwr_core.event_attendance a JOIN pwr_core.events e USING (event_id) "
                "WHERE e.actual_start_ts >= %s AND e.actual_start_ts < %s",
                (
                    datetime.combine(first, time(), UTC),
                    datetime.combine(first + timedelta(days=7), time(), UTC),
                ),
            )
        }
        return sum(r[1] for r in rows), {r[0] for r in rows} | attendees

    seconds, active = voice(week)
    before, active_before = voice(week - timedelta(days=7))
    top = conn.execute(
        "SELECT m.display_name, sum(d.total_voice_seconds) s FROM pwr_agg.member_voice_daily d "
        "JOIN pwr_core.members m USING (member_id) WHERE d.activity_date BETWEEN %s AND %s "
        "GROUP BY m.display_name ORDER BY s DESC, 1 LIMIT 3",
        (week, week + timedelta(days=6)),
    ).fetchall()
    best = conn.execute(
        "SELECT e.name, e.actual_start_ts, count(*) FROM pwr_core.events e "
        "JOIN pwr_core.event_attendance a USING (event_id) WHERE e.actual_start_ts >= %s AND e.actual_start_ts < %s "
        "GROUP BY e.event_id ORDER BY 3 DESC, 2, e.event_id LIMIT 1",
        (start, end),
    ).fetchone()
    new = [
        r[0]
        for r in conn.execute(
            "SELECT display_name FROM pwr_core.members WHERE join_date >= %s AND join_date < %s ORDER BY join_date",
            (start, end),
        )
    ]
    return digest_text.Digest(
        week,
        seconds,
        before,
        len(active),
        len(active_before),
        [(n, int(s)) for n, s in top],
        (best[0], best[1], best[2]) if best else None,
        new,
    )


@pytest.fixture
def seeded(warehouse_conn: psycopg.Connection) -> psycopg.Connection:
    seed(warehouse_conn, TODAY)
    # two members joined Discord during the week, one the week before
    for uid, joined in (
        (13, datetime(2026, 11, 10, 8, tzinfo=UTC)),
        (15, datetime(2026, 11, 12, 20, tzinfo=UTC)),
    ):
        warehouse_conn.execute(
            "UPDATE pwr_core.members SET join_date = %s WHERE discord_user_id = %s", (joined, uid)
        )
    warehouse_conn.execute(
        "UPDATE pwr_core.members SET join_date = '2026-11-08 23:59:59+00' WHERE discord_user_id = 14"
    )
    return warehouse_conn


def test_the_digest_equals_sql_for_the_week(seeded: psycopg.Connection) -> None:
    got = digest_text.weekly_digest(seeded, WEEK, UTC_ZONE)
    expected = expected_digest(seeded, WEEK)
    assert got == expected
    assert got.voice_seconds > 0 and got.previous_voice_seconds > 0 and len(got.top_members) == 3
    assert got.best_event is not None and got.new_members == ["Cy", "Eve"]
    text = got.text(UTC_ZONE)
    assert text.splitlines()[0] == "**Weekly digest — week of 2026-11-09 (2026-W46)**"
    change = (got.voice_seconds - got.previous_voice_seconds) / got.previous_voice_seconds
    assert (
        f"Voice: {got.voice_seconds / 3600:.1f} h ({change:+.0%} vs {got.previous_voice_seconds / 3600:.1f} h)"
        in text
    )
    assert f"Best event: {got.best_event[0]} — {got.best_event[2]} attendees" in text
    assert "New members: 2 (Cy, Eve)" in text


def test_materializing_a_week_twice_posts_once_and_a_change_edits_that_message(
    seeded: psycopg.Connection, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = {"warehouse": WarehouseResource(database_url=warehouse_url)}
    with (
        local_discord(guild(GUILD, voice_channels=[], members=[])) as discord,
        DagsterInstance.ephemeral() as instance,
    ):
        monkeypatch.delenv("PWR_DIGEST_WEBHOOK_URL", raising=False)
        quiet = materialize(
            [weekly_digest], partition_key=WEEK.isoformat(), resources=resources, instance=instance
        )
        assert quiet.success and discord.webhook_calls == []  # no webhook: recorded only
        [mat] = quiet.asset_materializations_for_node("digest__weekly_digest")
        expected_text = expected_digest(seeded, WEEK).text(UTC_ZONE)
        assert mat.metadata["text"].value == expected_text

        monkeypatch.setenv("PWR_DIGEST_WEBHOOK_URL", f"{discord.api_url}/webhooks/4242/secret-token")
        for _ in range(2):
            run = materialize(
                [weekly_digest], partition_key=WEEK.isoformat(), resources=resources, instance=instance
            )
            assert run.success
        [(method, message_id)] = discord.webhook_calls
        assert method == "POST" and discord.webhook_messages[message_id]["content"] == expected_text

        # a late change to the week (a member's join date lands): the re-run edits the same message
        seeded.execute(
            "UPDATE pwr_core.members SET join_date = '2026-11-14 10:00+00' WHERE discord_user_id = 11"
        )
        run = materialize(
            [weekly_digest], partition_key=WEEK.isoformat(), resources=resources, instance=instance
        )
        assert run.success
        assert discord.webhook_calls == [("POST", message_id), ("PATCH", message_id)]
        assert discord.webhook_messages[message_id]["content"] == expected_digest(seeded, WEEK).text(UTC_ZONE)
        assert "New members: 3 (Cy, Eve, Ada)" in discord.webhook_messages[message_id]["content"]
        stored = seeded.execute("SELECT webhook_id, message_id FROM pwr_core.digest_messages").fetchall()
        assert stored == [("4242", message_id)]  # the id only: the token is never stored

        # the CLI finds the same message: nothing new is posted
        result = CliRunner().invoke(main, ["digest", "--week", "2026-11-12", "--database-url", warehouse_url])
        assert result.exit_code == 0, result.output
        assert "unchanged" in result.output and len(discord.webhook_calls) == 2


def test_pwr_digest_dry_run_prints_the_weeks_digest(seeded: psycopg.Connection, warehouse_url: str) -> None:
    result = CliRunner().invoke(
        main, ["digest", "--week", "2026-11-15", "--dry-run", "--database-url", warehouse_url]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == expected_digest(seeded, WEEK).text(UTC_ZONE)
    bad = CliRunner().invoke(
        main, ["digest", "--week", "next monday", "--dry-run", "--database-url", warehouse_url]
    )
    assert bad.exit_code == 2 and "is not a date" in bad.output


def test_the_schedule_asks_for_the_week_that_has_just_ended() -> None:
    monday_morning = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
    request = weekly_digest_schedule(build_schedule_context(scheduled_execution_time=monday_morning))
    assert request.partition_key == "2026-11-09" and request.run_key == "weekly_digest:2026-11-09"
