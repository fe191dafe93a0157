"""Discord commands end to end (issue 14): the real ``pwr bot`` behind the local gateway.

An organizer runs ``/event start`` in a voice channel, members come and go, ``/event end``; the
commands land in ``pwr_raw.discord_event_commands`` through the collector's writer; the core
refresh sensor sees them, the core refresh folds them into ``pwr_core.events``, the attendance
sensor requests the event's partition, and the attendance equals what is computed here by hand
from the stored voice events. A member without the permission or the role is refused and
nothing is written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, RunRequest, build_sensor_context, materialize

from pwr_platform.definitions import build_definitions
from pwr_platform.defs.core.event_attendance import event_attendance
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.sensors import core_refresh_sensor, event_attendance_sensor
from pwr_platform.ingest.bot.commands import EventBook, end_event, start_event
from pwr_platform.ingest.bot.reader import EventState
from pwr_platform.runtime.embedded_postgres import EmbeddedPostgres
from pwr_platform_tests.conftest import REPO_ROOT
from pwr_platform_tests.discord_gateway import EPHEMERAL, MANAGE_EVENTS, guild, local_discord, member, option
from pwr_platform_tests.test_collector_fault_drills import (
    FIRST_USER,
    BotProcess,
    dispatch_joins,
    quiet_guild,
    replay_spool,
    voice_users,
    wait_for,
)
from pwr_platform_tests.test_writer import GUILD, own_server  # noqa: F401 - fixture

GENERAL, SQUAD = 101, 102
ORGANIZER_ROLE = 700
ADA, BEA, CY, DAN = 1, 2, 3, 4
ADA_M = member(ADA, "ada")
BEA_M = member(BEA, "bea", roles=[ORGANIZER_ROLE])
CY_M = member(CY, "cy")


def command_guild() -> dict:
    return guild(
        GUILD,
        voice_channels=[(GENERAL, 2, "General"), (SQUAD, 2, "Squad")],
        members=[ADA_M, BEA_M, CY_M, member(DAN, "dan")],
        roles=[(ORGANIZER_ROLE, "Organizers")],
    )


def squad_option() -> dict:
    """Squad as Discord resolves a channel option (``data.resolved.channels``)."""
    return {"id": str(SQUAD), "type": 2, "name": "Squad", "permissions": "0", "guild_id": str(GUILD)}


def command_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT action, external_event_id, name, event_type, channel_ids, organizer_discord_user_id "
            "FROM pwr_raw.discord_event_commands ORDER BY id"
        ).fetchall()


def ephemeral(reply: dict) -> bool:
    return bool(reply.get("flags", 0) & EPHEMERAL)


def expected_attendance(
    url: str, channels: set[int], start: datetime, end: datetime, grace: timedelta
) -> list[tuple]:
    """By hand from the stored voice events: each user's sessions in one of ``channels`` (join /
    move in opens, leave / move out closes: a move between two of them closes one and opens the
    next), those overlapping [start, end), seconds clipped to it and rounded per session to the
    nearest second (half up), on time = first join <= start + grace."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT discord_user_id, event_type, event_ts, discord_channel_id, "
            "(raw_payload->>'from_channel_id')::bigint FROM pwr_raw.discord_voice_events "
            "ORDER BY discord_user_id, event_ts"
        ).fetchall()
    sessions: dict[int, list[tuple[datetime, datetime | None]]] = {}
    open_at: dict[int, datetime] = {}
    for uid, kind, ts, ch, from_ch in rows:
        if uid in open_at and (kind == "leave" or (kind == "move" and from_ch in channels)):
            sessions.setdefault(uid, []).append((open_at.pop(uid), ts))
        if ch in channels and kind in ("join", "move"):
            open_at[uid] = ts
    for uid, ts in open_at.items():
        sessions.setdefault(uid, []).append((ts, None))
    result = []
    for uid, spans in sorted(sessions.items()):
        inside = [(s, e) for s, e in spans if s < end and (e is None or e > start)]
        if not inside:
            continue
        seconds = sum(
            int(
                Decimal((min(e or end, end) - max(s, start)).total_seconds()).quantize(
                    Decimal(1), ROUND_HALF_UP
                )
            )
            for s, e in inside
        )
        first = min(s for s, _ in inside)
        last = max((e or end) for _, e in inside)
        result.append((uid, first, last, seconds, first <= start + grace))
    return result


def test_event_commands_through_the_gateway_record_the_event_and_attendance_follows(
    warehouse_url: str, tmp_path: Path
) -> None:
    with local_discord(command_guild()) as discord:
        bot = BotProcess(discord, tmp_path / "home", warehouse_url, PWR_ORGANIZER_ROLE_ID=str(ORGANIZER_ROLE))
        try:
            bot.start()
            discord.wait_connected()
            bot.wait_ready()

            refused = discord.run_command(CY_M, "event", [option("event", "Scrim night")], subcommand="start")
            assert ephemeral(refused)
            assert (
                "may not run `/event start`" in refused["content"] and "Manage Events" in refused["content"]
            )
            assert "Nothing was recorded" in refused["content"]

            nowhere = discord.run_command(
                ADA_M,
                "event",
                [option("event", "Scrim night")],
                subcommand="start",
                permissions=MANAGE_EVENTS,
            )
            assert "Join the voice channel" in nowhere["content"], nowhere  # ada is in no voice channel yet
            textual = discord.run_command(  # a text channel where a voice channel goes (stale registration)
                ADA_M,
                "event",
                [option("event", "Scrim night"), option("channel_2", "1", kind=7)],
                subcommand="start",
                permissions=MANAGE_EVENTS,
                resolved={"channels": {"1": {"id": "1", "type": 0, "name": "general", "permissions": "0"}}},
            )
            assert textual["content"].startswith(
                "`general` is not a valid `channel_2`: give a voice or stage channel. Nothing was recorded."
            ), textual

            discord.dispatch_voice(DAN, "dan", GENERAL)
            discord.dispatch_voice(ADA, "ada", GENERAL)
            discord.dispatch_voice(CY, "cy", SQUAD)
            time.sleep(1.0)
            discord.wait_processed(discord.dispatch_voice(DAN, "dan", None))  # dan leaves before the start
            time.sleep(0.5)

            # in ada's voice channel (General, by default) and the second team's, Squad
            started = discord.run_command(
                ADA_M,
                "event",
                [
                    option("event", "Scrim night"),
                    option("type", "scrim"),
                    option("channel_2", str(SQUAD), kind=7),
                ],
                subcommand="start",
                permissions=MANAGE_EVENTS,
                resolved={"channels": {str(SQUAD): squad_option()}},
            )
            assert ephemeral(started)
            assert started["content"].startswith("Recorded: the new event **Scrim night** started at")
            assert f" in <#{GENERAL}>, <#{SQUAD}> (event" in started["content"], started

            listed = discord.run_command(
                BEA_M,
                "event",
                [option("event", "scr") | {"focused": True}],
                subcommand="end",
                autocomplete=True,
            )
            assert [c["name"] for c in listed["choices"]] == ["Scrim night (active)"]
            assert listed["choices"][0]["value"].startswith("bot:")
            again = discord.run_command(BEA_M, "event", [option("event", "Scrim night")], subcommand="start")
            assert "already running since" in again["content"], again  # bea may: she has the role

            time.sleep(1.0)
            discord.dispatch_voice(BEA, "bea", GENERAL)
            time.sleep(1.0)
            discord.dispatch_voice(CY, "cy", GENERAL)  # a move from Squad
            time.sleep(1.5)
            discord.wait_processed(discord.dispatch_voice(BEA, "bea", None))

            status = discord.run_command(BEA_M, "event", subcommand="status")
            assert "**Scrim night**" in status["content"] and "since" in status["content"]
            assert f"<@{ADA}>" in status["content"] and f"<@{CY}>" in status["content"]
            assert f"<@{BEA}>" not in status["content"]  # she has left

            time.sleep(1.0)
            ended = discord.run_command(ADA_M, "event", subcommand="end", permissions=MANAGE_EVENTS)
            assert ephemeral(ended)
            assert ended["content"].startswith("Recorded: **Scrim night** ended at"), ended
            time.sleep(0.5)
            discord.wait_processed(discord.dispatch_voice(CY, "cy", None))  # cy leaves after the end

            twice = discord.run_command(ADA_M, "event", subcommand="end", permissions=MANAGE_EVENTS)
            assert "No event is running" in twice["content"]
            named = discord.run_command(
                ADA_M, "event", [option("event", "Scrim night")], subcommand="end", permissions=MANAGE_EVENTS
            )
            assert "already ended" in named["content"]
            unknown = discord.run_command(
                ADA_M, "event", [option("event", "Nope")], subcommand="end", permissions=MANAGE_EVENTS
            )
            assert "No event **Nope** is known" in unknown["content"]
            wait_for(lambda: len(command_rows(warehouse_url)) == 2, 30, "both commands committed")
            code = bot.signal(signal.SIGTERM)
        finally:
            bot.kill()
    assert code == 0, bot.log()

    rows = command_rows(warehouse_url)
    assert [r[0] for r in rows] == ["start", "end"]  # the refused and failed commands wrote nothing
    external = rows[0][1]
    assert external.startswith("bot:") and rows[1][1] == external
    assert rows[0][2:] == ("Scrim night", "scrim", [GENERAL, SQUAD], ADA)

    with DagsterInstance.ephemeral() as instance:
        resources = {"warehouse": WarehouseResource(database_url=warehouse_url)}
        request = core_refresh_sensor(build_sensor_context(instance=instance, resources=resources))
        assert isinstance(request, RunRequest) and "scheduled_events" in request.tags["pwr/trigger"]
        defs = build_definitions(WarehouseResource(database_url=warehouse_url))
        assert defs.resolve_job_def("core_refresh_job").execute_in_process(instance=instance).success

        with psycopg.connect(warehouse_url) as conn:
            event_id, status, sched, start, end, host = conn.execute(
                "SELECT e.event_id, e.status, e.scheduled_start_ts, e.actual_start_ts, e.actual_end_ts, "
                "m.discord_user_id FROM pwr_core.events e JOIN pwr_core.members m ON m.member_id = e.host_member_id "
                "WHERE external_event_id = %s",
                (external,),
            ).fetchone()
            channels = [r[0] for r in conn.execute("SELECT discord_channel_id FROM pwr_core.event_channels")]
            stamps = [
                r[0]
                for r in conn.execute("SELECT recorded_ts FROM pwr_raw.discord_event_commands ORDER BY id")
            ]
        assert (status, host, sorted(channels)) == ("completed", ADA, [GENERAL, SQUAD])
        with psycopg.connect(warehouse_url) as conn:
            join_dates = conn.execute(
                "SELECT discord_user_id, join_date FROM pwr_core.members ORDER BY 1"
            ).fetchall()
        # Discord's joined_at from the voice payloads' member objects (no members intent)
        joined = datetime.fromisoformat(ADA_M["joined_at"])
        assert join_dates == [(uid, joined) for uid in (ADA, BEA, CY, DAN)]
        assert (sched, start, end) == (stamps[0], stamps[0], stamps[1])

        tick = event_attendance_sensor(build_sensor_context(instance=instance, resources=resources))
        for add in tick.dynamic_partitions_requests:
            instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
        assert [r.partition_key for r in tick.run_requests] == [str(event_id)]
        run = materialize(
            [event_attendance], instance=instance, partition_key=str(event_id), resources=resources
        )
        assert run.success

    with psycopg.connect(warehouse_url) as conn:
        stored = conn.execute(
            "SELECT m.discord_user_id, a.first_join_ts, a.last_leave_ts, a.total_voice_seconds, a.joined_on_time "
            "FROM pwr_core.event_attendance a JOIN pwr_core.members m USING (member_id) "
            "WHERE a.event_id = %s ORDER BY 1",
            (event_id,),
        ).fetchall()
    expected = expected_attendance(warehouse_url, {GENERAL, SQUAD}, start, end, timedelta(minutes=10))
    assert [r[0] for r in expected] == [ADA, BEA, CY]  # dan left before the start
    assert stored == expected
    # cy was in Squad from before the start: counted from the start, which General alone (joined
    # by a move after it) would have missed
    general_only = dict(
        (r[0], r) for r in expected_attendance(warehouse_url, {GENERAL}, start, end, timedelta(minutes=10))
    )
    cy = next(r for r in stored if r[0] == CY)
    assert cy[1] < start < general_only[CY][1] and cy[3] > general_only[CY][3]
    assert all(r[3] > 0 for r in stored)


# -- the decisions, without Discord ---------------------------------------------------------------


NOW = datetime.fromisoformat("2026-11-01T19:00:00+00:00")


def state(key: str, status: str, channels=(GENERAL,), name: str = "Inhouse") -> EventState:
    return EventState(key, name, "inhouse", status, NOW - timedelta(minutes=5), None, None, tuple(channels))


def start(states, **kwargs):
    base = dict(
        event=None,
        kind=None,
        channel_id=None,
        voice_channel_id=SQUAD,
        now=NOW,
        guild_id=GUILD,
        interaction_id=55,
        organizer_id=ADA,
    )
    return start_event(states, **(base | kwargs))


@pytest.mark.parametrize(
    ("status", "phrase"), [("completed", "already ended"), ("cancelled", "was cancelled")]
)
def test_start_refuses_an_event_that_ended_or_was_cancelled(status: str, phrase: str) -> None:
    outcome = start([state("m-1", status)], event="m-1")
    assert outcome.record is None and phrase in outcome.reply and "Nothing was recorded" in outcome.reply


def test_a_name_of_an_ended_event_starts_a_new_one() -> None:
    outcome = start([state("bot:1", "completed", name="Scrim night")], event="scrim night")
    assert outcome.record.external_event_id == "bot:55" and outcome.record.name == "scrim night"


def test_start_of_a_scheduled_event_keeps_its_channels_and_id() -> None:
    outcome = start([state("discord:9", "scheduled")], event="inhouse")
    assert outcome.record.external_event_id == "discord:9" and outcome.state.channel_ids == (GENERAL,)
    assert outcome.record.channel_ids == ()  # it adds none: the event's own channel stays its source's
    assert outcome.record.action == "start" and outcome.record.recorded_ts == NOW


def test_start_with_several_channels_runs_the_event_in_all_of_them() -> None:
    third = 103
    # channel: defaults to the organizer's voice channel (SQUAD in these tests); a channel twice counts once
    adhoc = start([], event="Scrim", more_channel_ids=(GENERAL, SQUAD))
    assert adhoc.record.channel_ids == (SQUAD, GENERAL) and adhoc.state.channel_ids == (SQUAD, GENERAL)
    assert f"in <#{SQUAD}>, <#{GENERAL}> (event" in adhoc.reply
    assert json.loads(adhoc.record.payload)["channel_ids"] == [str(GENERAL), str(SQUAD)]
    given = start([], event="Scrim", channel_id=third, more_channel_ids=(GENERAL,))
    assert given.record.channel_ids == (third, GENERAL)
    # a scheduled event keeps its own channel and takes the given ones beside it, not the
    # organizer's voice channel (the event says where it runs)
    known = start([state("discord:9", "scheduled")], event="discord:9", more_channel_ids=(third, GENERAL))
    assert known.record.channel_ids == (third,)
    assert known.state.channel_ids == (GENERAL, third)
    assert f"in <#{GENERAL}>, <#{third}>" in known.reply
    # an event without a channel of its own: the channels as for a new event
    bare = start([state("m-3", "scheduled", channels=())], event="m-3", more_channel_ids=(third,))
    assert bare.record.channel_ids == (SQUAD, third)


def test_an_event_without_channels_takes_the_organizers_voice_channel() -> None:
    outcome = start([state("m-2", "scheduled", channels=())], event="m-2")
    assert outcome.record.channel_ids == (SQUAD,)


def test_end_without_a_name_needs_exactly_one_running_event() -> None:
    common = dict(event=None, now=NOW, guild_id=GUILD, interaction_id=56, organizer_id=ADA)
    two = [state("a", "active", name="A"), state("b", "active", name="B")]
    assert "Several events are running" in end_event(two, **common).reply
    assert "has not started" in end_event([state("c", "scheduled")], **(common | {"event": "c"})).reply
    ended = end_event([state("a", "active", name="A")], **common)
    assert ended.record.external_event_id == "a" and ended.state.status == "completed"


def test_the_book_overlays_commands_the_warehouse_has_not_seen_yet() -> None:
    book = EventBook()
    book.remember(state("a", "completed"))
    merged = book.overlay([state("a", "active"), state("b", "scheduled")])
    assert sorted((s.external_event_id, s.status) for s in merged) == [("a", "completed"), ("b", "scheduled")]


# -- operators: list and sync the commands; the gateway's RECONNECT and INVALID_SESSION ------------


def pwr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PWR_")} | env
    exe = os.path.join(os.path.dirname(sys.executable), "pwr")
    return subprocess.run([exe, *args], env=clean, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


def test_list_commands_needs_no_token_and_prints_the_tree(tmp_path: Path) -> None:
    done = pwr({"PWR_HOME": str(tmp_path)}, "bot", "--list-commands")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("/event — ")
    assert any(
        line.strip().startswith("/event start [event] [type] [channel] [channel_2] [channel_3] — ")
        for line in lines
    )
    assert any(line.strip().startswith("/event end [event] — ") for line in lines)
    assert any(line.startswith("/stats [member] — ") for line in lines)
    assert any(line.startswith("/leaderboard [period] — ") for line in lines)


def test_sync_registers_the_commands_with_the_guild_and_says_clearly_when_it_cannot(tmp_path: Path) -> None:
    with local_discord(command_guild()) as discord:
        env = discord.bot_settings() | {"PWR_HOME": str(tmp_path)}
        done = pwr(env, "bot", "--sync")
        assert done.returncode == 0, done.stderr
        assert f"Synced 3 commands to guild {GUILD}: event, stats, leaderboard" in done.stdout
        synced = discord.synced_commands[str(GUILD)]
        event = next(c for c in synced if c["name"] == "event")
        assert sorted(o["name"] for o in event["options"]) == ["end", "start", "status"]

        elsewhere = pwr(env | {"PWR_GUILD_ID": "424242"}, "bot", "--sync")
        assert elsewhere.returncode == 1
        assert "guild 424242" in elsewhere.stderr and "bot applications.commands" in elsewhere.stderr
        assert "Traceback" not in elsewhere.stderr

        bad_token = pwr(env | {"PWR_DISCORD_TOKEN": "wrong"}, "bot", "--sync")
        assert bad_token.returncode == 1 and "Discord refused the bot token" in bad_token.stderr
        assert "Traceback" not in bad_token.stderr
        no_token = pwr({k: v for k, v in env.items() if k != "PWR_DISCORD_TOKEN"}, "bot", "--sync")
        assert no_token.returncode == 1 and "PWR_DISCORD_TOKEN is not set" in no_token.stderr


def test_reconnect_and_invalid_session_lose_nothing_sent_on_a_live_session(
    warehouse_url: str, tmp_path: Path
) -> None:
    """Op 7 RECONNECT: the bot resumes and gets what was sent meanwhile. Op 9 INVALID_SESSION (not
    resumable): it identifies afresh (a new READY, so a new reconciliation) and goes on."""
    with local_discord(quiet_guild()) as discord:
        bot = BotProcess(discord, tmp_path / "home", warehouse_url)
        try:
            bot.start()
            discord.wait_connected()
            bot.wait_ready()
            discord.wait_processed(dispatch_joins(discord, FIRST_USER, 10))
            discord.send_reconnect()
            sent_meanwhile = dispatch_joins(discord, FIRST_USER + 10, 10)
            discord.wait_connected()
            discord.wait_processed(sent_meanwhile)
            assert (discord.identifies, discord.resumes) == (1, 1)

            discord.invalidate_session(resumable=False)
            discord.wait_connected()
            wait_for(lambda: bot.log().count("reconciliation recorded") == 2, 60, "a second ready")
            discord.wait_processed(dispatch_joins(discord, FIRST_USER + 20, 10))
            assert discord.identifies == 2
            wait_for(lambda: len(voice_users(warehouse_url)) >= 30, 60, "all 30 events committed")
            code = bot.signal(signal.SIGTERM)
        finally:
            bot.kill()
    assert code == 0, bot.log()
    assert sorted(voice_users(warehouse_url)) == list(range(FIRST_USER, FIRST_USER + 30))


def test_event_commands_while_postgres_is_down_are_spooled_and_replayed(
    own_server: EmbeddedPostgres,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    """Same durability as voice events: with PostgreSQL stopped the organizer still gets an
    answer (judged on the bot's own records, and saying so), the commands go to the spool, and a
    replay stores them once."""
    url = own_server.url("postgres")
    with local_discord(command_guild()) as discord:
        bot = BotProcess(discord, tmp_path / "home", url, PWR_BOT_STOP_DRAIN_SECONDS="2")
        try:
            bot.start()
            discord.wait_connected()
            bot.wait_ready()
            own_server.stop()
            discord.wait_processed(discord.dispatch_voice(ADA, "ada", SQUAD))
            started = discord.run_command(
                ADA_M,
                "event",
                [option("event", "Outage inhouse")],
                subcommand="start",
                permissions=MANAGE_EVENTS,
            )
            assert started["content"].startswith("Recorded: the new event **Outage inhouse**"), started
            assert "Checked against this bot's own records only" in started["content"]
            ended = discord.run_command(ADA_M, "event", subcommand="end", permissions=MANAGE_EVENTS)
            assert ended["content"].startswith("Recorded: **Outage inhouse** ended"), ended
            code = bot.signal(signal.SIGTERM)
        finally:
            bot.kill()
    assert code == 0, bot.log()
    spooled = []
    for segment in sorted((tmp_path / "home" / "spool").glob("*/*.jsonl")):
        spooled += [json.loads(line)[0] for line in segment.read_text().splitlines()]
    assert spooled.count("event_command") == 2

    own_server.start()
    replay_spool(tmp_path / "home" / "spool", url)
    rows = command_rows(url)
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [
        ("start", "Outage inhouse", "inhouse", [SQUAD]),
        ("end", "Outage inhouse", None, []),
    ]
    replay_spool(tmp_path / "home" / "spool", url)  # nothing left to replay, nothing doubled
    assert len(command_rows(url)) == 2


def test_interested_counts_are_fetched_over_rest_for_the_snapshot_and_each_update(
    warehouse_url: str, tmp_path: Path
) -> None:
    """The gateway sends no interested count; the bot asks the REST API (with_counts) for it."""
    from pwr_platform_tests.discord_gateway import scheduled_event

    event = scheduled_event(GUILD, 7001, 1, "Scrim vs Owls", GENERAL)
    event.pop("user_count")  # as Discord's gateway sends it
    discord_guild = command_guild() | {"guild_scheduled_events": [event]}
    with local_discord(discord_guild) as discord:
        discord.interested[7001] = 9
        bot = BotProcess(discord, tmp_path / "home", warehouse_url)
        try:
            bot.start()
            discord.wait_connected()
            bot.wait_ready()
            discord.interested[7001] = 12
            active = {
                k: v
                for k, v in scheduled_event(GUILD, 7001, 2, "Scrim vs Owls", GENERAL).items()
                if k != "user_count"
            }
            discord.wait_processed(discord.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", active))
            wait_for(lambda: len(observations(warehouse_url)) == 2, 30, "both observations committed")
            code = bot.signal(signal.SIGTERM)
        finally:
            bot.kill()
    assert code == 0, bot.log()
    assert observations(warehouse_url) == [("scheduled", "sync", 9), ("active", "update", 12)]


def observations(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT status, raw_payload->>'trigger', (raw_payload->>'user_count')::int "
            "FROM pwr_raw.discord_scheduled_events ORDER BY observed_ts"
        ).fetchall()
