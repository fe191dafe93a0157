"""Collector handlers driven by real discord.py objects, built the way the gateway builds them.

A real ``discord.state.ConnectionState`` parses gateway payload dicts (GUILD_CREATE,
VOICE_STATE_UPDATE, GUILD_SCHEDULED_EVENT_*, GUILD_MEMBER_*) with discord.py's own code; the
objects it dispatches go to the listener cogs, and we check the records they put on the queue.
No network, no mocks of discord.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import discord
import pytest
from discord.state import ConnectionState

from pwr_platform.ingest.bot.channels import ChannelListener
from pwr_platform.ingest.bot.clock import GuardedClock
from pwr_platform.ingest.bot.config import CollectorConfig
from pwr_platform.ingest.bot.heartbeat import Heartbeat
from pwr_platform.ingest.bot.members import MemberListener
from pwr_platform.ingest.bot.scheduled_events import ScheduledEventListener, classify_event_type
from pwr_platform.ingest.bot.startup_sync import reconciliation
from pwr_platform.ingest.bot.voice import VoiceListener
from pwr_platform.ingest.records import (
    ChannelRecord,
    HeartbeatRecord,
    MemberRecord,
    ScheduledEventRecord,
    VoiceRecord,
)
from pwr_platform_tests import discord_gateway as gateway_payloads
from pwr_platform_tests.discord_gateway import member, user

GUILD = 811111111111111111
GENERAL, SQUAD, AFK, STAGE = 101, 102, 103, 104
NOW = datetime(2026, 11, 1, 19, 2, 11, 123000, tzinfo=UTC)


def voice_state(uid: int, channel: int | None, **flags) -> dict:
    return gateway_payloads.voice_state(GUILD, uid, channel, **flags)


def scheduled_event(eid: int, status: int, name: str = "Scrim vs Night Owls", channel: int = SQUAD) -> dict:
    return gateway_payloads.scheduled_event(GUILD, eid, status, name, channel)


class Gateway:
    """A discord.py ConnectionState fed gateway payloads; records what it dispatches."""

    def __init__(self, *, members_intent: bool = False) -> None:
        self.dispatched: list[tuple[str, tuple]] = []
        intents = discord.Intents.none()
        intents.guilds = intents.voice_states = intents.guild_scheduled_events = True
        intents.members = members_intent
        self.state = ConnectionState(
            dispatch=lambda name, *args: self.dispatched.append((name, args)),
            handlers={},
            hooks={},
            http=None,
            intents=intents,
            member_cache_flags=discord.MemberCacheFlags.from_intents(intents),
            chunk_guilds_at_startup=False,
        )
        self.state.user = discord.ClientUser(state=self.state, data=user(900, "collector", bot=True))
        self.state.parse_guild_create(
            gateway_payloads.guild(
                GUILD,
                voice_channels=[
                    (GENERAL, 2, "General"),
                    (SQUAD, 2, "Squad"),
                    (AFK, 2, "AFK"),
                    (STAGE, 13, "Stage"),
                ],
                afk_channel=AFK,
                members=[member(1, "ada"), member(2, "bob"), member(3, "musicbot", bot=True)],
                voice_states=[
                    voice_state(1, GENERAL, self_mute=True),
                    voice_state(3, GENERAL),
                    voice_state(2, AFK),
                ],
                scheduled_events=[scheduled_event(7001, 1)],
            )
        )
        self.guild = self.state._get_guild(GUILD)

    def feed(self, event: str, payload: dict) -> tuple:
        """Parse one gateway event; return the args of what discord.py dispatched for it."""
        before = len(self.dispatched)
        getattr(self.state, f"parse_{event.lower()}")(payload)
        new = self.dispatched[before:]
        assert new, f"discord.py dispatched nothing for {event}"
        return new[-1]


class ListSink:
    def __init__(self) -> None:
        self.records: list = []

    def put(self, record) -> None:
        self.records.append(record)


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


def config(**kwargs) -> CollectorConfig:
    return CollectorConfig(guild_id=GUILD, run_id="run-1", **{"clock": lambda: NOW, **kwargs})


def run_voice(gw: Gateway, payload: dict, **cfg) -> list[VoiceRecord]:
    """The voice records one VOICE_STATE_UPDATE gives (its member record: test_voice_member_*)."""
    name, args = gw.feed("VOICE_STATE_UPDATE", payload)
    assert name == "voice_state_update"
    sink = ListSink()
    asyncio.run(VoiceListener(config(**cfg), sink).on_voice_state_update(*args))
    return [r for r in sink.records if isinstance(r, VoiceRecord)]


def test_voice_member_joined_at_is_recorded_once_without_the_members_intent(gateway: Gateway) -> None:
    """The member object of a voice-state update carries joined_at: one ``voice`` member record
    per member (and per new joined_at, a rejoin), none for a mute-only change."""
    listener = VoiceListener(config(), ListSink())
    joined = "2024-06-07T08:09:10.000000+00:00"
    for payload in (
        voice_state(4, SQUAD) | {"member": member(4, "cyd", joined_at=joined)},
        voice_state(4, SQUAD, self_mute=True) | {"member": member(4, "cyd", joined_at=joined)},
        voice_state(4, GENERAL) | {"member": member(4, "cyd", joined_at=joined)},
        voice_state(4, None) | {"member": member(4, "cyd", joined_at=joined)},
        # left the guild and came back: a new joined_at (the member left discord.py's voice-only cache)
        voice_state(4, SQUAD) | {"member": member(4, "cyd", joined_at="2026-10-01T00:00:00+00:00")},
    ):
        _, args = gateway.feed("VOICE_STATE_UPDATE", payload)
        asyncio.run(listener.on_voice_state_update(*args))
    members = [r for r in listener.sink.records if isinstance(r, MemberRecord)]
    assert [(r.event_type, r.user_id, r.joined_at.isoformat()) for r in members] == [
        ("voice", 4, "2024-06-07T08:09:10+00:00"),
        ("voice", 4, "2026-10-01T00:00:00+00:00"),
    ]
    assert [r.event_type for r in listener.sink.records if isinstance(r, VoiceRecord)] == [
        "join",
        "move",
        "leave",
        "join",
    ]


def payload(record) -> dict:
    return json.loads(record.payload)


def test_join_records_channel_user_and_flags(gateway: Gateway) -> None:
    [rec] = run_voice(gateway, voice_state(4, SQUAD, self_deaf=True) | {"member": member(4, "cyd")})
    assert (rec.event_type, rec.guild_id, rec.user_id, rec.channel_id, rec.event_ts) == (
        "join",
        GUILD,
        4,
        SQUAD,
        NOW,
    )
    body = payload(rec)
    assert body["event_ts"] == "2026-11-01T19:02:11.123Z"
    assert body["discord_channel_id"] == str(SQUAD) and body["source"] == "bot"
    assert body["self_deaf"] is True and body["self_mute"] is False
    assert body["username"] == "cyd" and body["display_name"] == "Cyd"
    assert body["channel_name"] == "Squad" and "from_channel_name" not in body  # as Discord names it
    assert "afk" not in body


def test_leave_records_the_channel_left(gateway: Gateway) -> None:
    [rec] = run_voice(gateway, voice_state(1, None))
    assert (rec.event_type, rec.user_id, rec.channel_id) == ("leave", 1, GENERAL)
    assert payload(rec)["self_mute"] is True  # flags as they were in the channel left
    assert payload(rec)["channel_name"] == "General"


def test_move_records_new_channel_and_from_channel(gateway: Gateway) -> None:
    [rec] = run_voice(gateway, voice_state(1, SQUAD))
    assert (rec.event_type, rec.channel_id) == ("move", SQUAD)
    assert payload(rec)["from_channel_id"] == str(GENERAL)
    assert (payload(rec)["channel_name"], payload(rec)["from_channel_name"]) == ("Squad", "General")


def test_mute_only_change_is_not_an_event(gateway: Gateway) -> None:
    assert run_voice(gateway, voice_state(1, GENERAL, self_mute=False, self_deaf=True)) == []
    assert run_voice(gateway, voice_state(1, GENERAL, self_video=True)) == []


def test_bots_are_excluded_unless_configured() -> None:
    assert run_voice(Gateway(), voice_state(3, None)) == []
    [rec] = run_voice(Gateway(), voice_state(3, None), include_bots=True)
    assert rec.event_type == "leave" and payload(rec)["bot"] is True


def test_afk_channel_is_flagged(gateway: Gateway) -> None:
    [to_afk] = run_voice(gateway, voice_state(1, AFK))
    assert to_afk.event_type == "move" and payload(to_afk)["afk"] is True
    [leave_afk] = run_voice(gateway, voice_state(2, None))
    assert leave_afk.channel_id == AFK and payload(leave_afk)["afk"] is True


def test_other_guilds_are_ignored(gateway: Gateway) -> None:
    name, args = gateway.feed("VOICE_STATE_UPDATE", voice_state(1, SQUAD))
    sink = ListSink()
    other = CollectorConfig(guild_id=GUILD + 1, clock=lambda: NOW)
    asyncio.run(VoiceListener(other, sink).on_voice_state_update(*args))
    assert sink.records == []


def run_event(gw: Gateway, event: str, data: dict, at: datetime) -> list[ScheduledEventRecord]:
    name, args = gw.feed(event, data)
    sink = ListSink()
    listener = ScheduledEventListener(CollectorConfig(guild_id=GUILD, clock=lambda: at), sink)
    asyncio.run(getattr(listener, f"on_{name}")(*args))
    return sink.records


def test_scheduled_event_status_transitions(gateway: Gateway) -> None:
    t0 = NOW - timedelta(days=2)
    [created] = run_event(gateway, "GUILD_SCHEDULED_EVENT_CREATE", scheduled_event(7002, 1), t0)
    [active] = run_event(gateway, "GUILD_SCHEDULED_EVENT_UPDATE", scheduled_event(7002, 2), NOW)
    [done] = run_event(
        gateway, "GUILD_SCHEDULED_EVENT_UPDATE", scheduled_event(7002, 3), NOW + timedelta(hours=2)
    )
    assert [(r.status, r.observed_ts) for r in (created, active, done)] == [
        ("scheduled", t0),
        ("active", NOW),
        ("completed", NOW + timedelta(hours=2)),
    ]
    assert created.event_id == 7002 and created.guild_id == GUILD
    assert created.channel_id == SQUAD and created.creator_id == 1
    assert created.event_type == "scrim"
    assert created.scheduled_start_ts == datetime(2026, 11, 1, 19, tzinfo=UTC)
    assert created.scheduled_end_ts == datetime(2026, 11, 1, 21, tzinfo=UTC)
    assert payload(done)["trigger"] == "update" and payload(done)["discord_status"] == "completed"


def test_cancel_and_delete(gateway: Gateway) -> None:
    run_event(gateway, "GUILD_SCHEDULED_EVENT_CREATE", scheduled_event(7003, 1, "Inhouse #4"), NOW)
    [cancelled] = run_event(
        gateway, "GUILD_SCHEDULED_EVENT_UPDATE", scheduled_event(7003, 4, "Inhouse #4"), NOW
    )
    assert cancelled.status == "cancelled" and cancelled.event_type == "inhouse"
    # Deleting an event that never started cancels it; deleting a completed one does not.
    [deleted] = run_event(gateway, "GUILD_SCHEDULED_EVENT_DELETE", scheduled_event(7001, 1), NOW)
    assert deleted.status == "cancelled" and payload(deleted)["trigger"] == "delete"
    [old] = run_event(gateway, "GUILD_SCHEDULED_EVENT_DELETE", scheduled_event(7009, 3, "Town hall"), NOW)
    assert old.status == "completed" and old.event_type == "meeting"


def test_event_type_classification() -> None:
    assert classify_event_type("Friday SCRIM", None) == "scrim"
    assert classify_event_type("In-house games", None) == "inhouse"
    assert classify_event_type("Movie night", "monthly community meeting") == "meeting"
    assert classify_event_type("Movie night", None) is None


def test_reconnect_snapshot_joins_everyone_in_voice(gateway: Gateway) -> None:
    records = reconciliation(gateway.guild, config())
    voice = [r for r in records if isinstance(r, VoiceRecord)]
    assert sorted((r.user_id, r.channel_id) for r in voice) == [(1, GENERAL), (2, AFK)]  # bot 3 left out
    assert all(r.event_type == "join" and r.event_ts == NOW for r in voice)
    assert {payload(r)["source"] for r in voice} == {"snapshot"}
    assert payload(next(r for r in voice if r.user_id == 2))["afk"] is True
    assert {r.user_id: payload(r)["channel_name"] for r in voice} == {1: "General", 2: "AFK"}
    assert [r for r in records if isinstance(r, HeartbeatRecord)] == [HeartbeatRecord(GUILD, "run-1", NOW)]
    [event] = [r for r in records if isinstance(r, ScheduledEventRecord)]
    assert (event.event_id, event.status, payload(event)["trigger"]) == (7001, "scheduled", "sync")
    assert not [r for r in records if isinstance(r, MemberRecord)]  # no members intent
    # every voice and stage channel's name, occupied or not (a rename missed while away)
    names = {
        r.channel_id: (r.event_type, r.channel_name, r.event_ts)
        for r in records
        if isinstance(r, ChannelRecord)
    }
    assert names == {
        GENERAL: ("snapshot", "General", NOW),
        SQUAD: ("snapshot", "Squad", NOW),
        AFK: ("snapshot", "AFK", NOW),
        STAGE: ("snapshot", "Stage", NOW),
    }


def test_reconnect_snapshot_with_members_intent() -> None:
    gw = Gateway(members_intent=True)
    records = reconciliation(gw.guild, config(members_intent=True))
    members = [r for r in records if isinstance(r, MemberRecord)]
    assert sorted(r.user_id for r in members) == [1, 2]
    assert all(r.event_type == "snapshot" for r in members)
    assert members[0].joined_at == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_member_join_leave_and_rename() -> None:
    gw = Gateway(members_intent=True)
    sink = ListSink()
    listener = MemberListener(config(members_intent=True), sink)
    name, args = gw.feed("GUILD_MEMBER_ADD", member(5, "dee") | {"guild_id": str(GUILD)})
    asyncio.run(listener.on_member_join(*args))
    name, args = gw.feed(
        "GUILD_MEMBER_UPDATE", member(5, "dee", nick="Dee the Great") | {"guild_id": str(GUILD)}
    )
    assert name == "member_update"
    asyncio.run(listener.on_member_update(*args))
    name, args = gw.feed("GUILD_MEMBER_REMOVE", {"guild_id": str(GUILD), "user": user(5, "dee")})
    assert name == "raw_member_remove"
    asyncio.run(listener.on_raw_member_remove(*args))
    join, rename, leave = sink.records
    assert (join.event_type, join.user_id, join.joined_at) == (
        "join",
        5,
        datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC),
    )
    assert (rename.event_type, rename.display_name) == ("update", "Dee the Great")
    assert (leave.event_type, leave.user_id, leave.event_ts) == ("leave", 5, NOW)


def test_heartbeat_only_while_connected() -> None:
    async def scenario() -> list:
        sink = ListSink()
        beat = Heartbeat(config(), sink)
        states = [beat.record()]
        await beat.on_ready()
        states.append(beat.record())
        await beat.on_disconnect()
        states.append(beat.record())
        await beat.on_resumed()
        states.append(beat.record())
        return states

    assert asyncio.run(scenario()) == [
        None,
        HeartbeatRecord(GUILD, "run-1", NOW),
        None,
        HeartbeatRecord(GUILD, "run-1", NOW),
    ]


class SteppingClocks:
    """A wall clock a test can step (as NTP or a bad RTC does) beside a monotonic one that never steps."""

    def __init__(self, start: datetime) -> None:
        self.wall = start
        self.mono = 5000.0

    def elapse(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def guarded(self) -> GuardedClock:
        return GuardedClock(lambda: self.wall, lambda: self.mono)


def test_clock_a_wall_clock_jump_to_2099_is_clamped_to_real_elapsed_time(gateway: Gateway) -> None:
    clocks = SteppingClocks(NOW)
    clock = clocks.guarded()
    clocks.elapse(60)
    [join] = run_voice(gateway, voice_state(2, GENERAL), clock=clock)
    assert join.event_ts == NOW + timedelta(seconds=60)
    clocks.wall = datetime(2099, 1, 1, tzinfo=UTC)  # the system clock jumps 73 years ahead
    clocks.mono += 30
    [leave] = run_voice(gateway, voice_state(2, None), clock=clock)
    assert leave.event_ts == NOW + timedelta(seconds=90)  # 30 s after the join, not in 2099
    assert clock.step is not None and clock.step > timedelta(days=365)
    clocks.elapse(200)  # a small step ahead (within 5 min) of a wall clock that is back is believed
    clocks.wall = NOW + timedelta(seconds=290 + 120)
    assert clock() == NOW + timedelta(seconds=410) and clock.step is None


def test_clock_a_backwards_ntp_step_never_makes_events_go_backwards(gateway: Gateway) -> None:
    clocks = SteppingClocks(NOW)
    clock = clocks.guarded()
    [join] = run_voice(gateway, voice_state(2, SQUAD), clock=clock)  # from AFK: a move
    clocks.elapse(45)
    clocks.wall -= timedelta(hours=1)  # NTP steps the clock back an hour
    [move] = run_voice(gateway, voice_state(2, GENERAL), clock=clock)
    clocks.elapse(30)
    [leave] = run_voice(gateway, voice_state(2, None), clock=clock)
    assert [r.event_type for r in (join, move, leave)] == ["move", "move", "leave"]
    assert move.event_ts - join.event_ts == timedelta(seconds=45)
    assert leave.event_ts - move.event_ts == timedelta(seconds=30)
    clocks.wall -= timedelta(milliseconds=300)  # NTP slewing a little behind: still never earlier
    assert clock() >= leave.event_ts


def channel_payload(cid: int, ctype: int, name: str, position: int = 0) -> dict:
    return gateway_payloads.channel(GUILD, cid, ctype, name, position)


def test_channel_created_and_renamed_are_recorded_other_changes_and_text_channels_not(
    gateway: Gateway,
) -> None:
    sink = ListSink()
    listener = ChannelListener(config(), sink)
    name, args = gateway.feed("CHANNEL_UPDATE", channel_payload(SQUAD, 2, "Raid night", position=1))
    assert name == "guild_channel_update"
    asyncio.run(listener.on_guild_channel_update(*args))
    name, args = gateway.feed("CHANNEL_UPDATE", channel_payload(SQUAD, 2, "Raid night", position=3))
    asyncio.run(listener.on_guild_channel_update(*args))  # moved in the list: not a rename
    name, args = gateway.feed("CHANNEL_CREATE", channel_payload(105, 13, "Town hall"))
    assert name == "guild_channel_create"
    asyncio.run(listener.on_guild_channel_create(*args))
    name, args = gateway.feed("CHANNEL_CREATE", channel_payload(106, 0, "chat"))  # a text channel
    asyncio.run(listener.on_guild_channel_create(*args))
    name, args = gateway.feed("CHANNEL_UPDATE", channel_payload(106, 0, "banter"))
    asyncio.run(listener.on_guild_channel_update(*args))
    assert [(r.event_type, r.channel_id, r.channel_name, r.event_ts) for r in sink.records] == [
        ("update", SQUAD, "Raid night", NOW),
        ("create", 105, "Town hall", NOW),
    ]
    assert json.loads(sink.records[0].payload) == {
        "id": str(SQUAD),
        "name": "Raid night",
        "type": "voice",
        "source": "bot",
    }
    # the spool keeps it as it is
    assert ChannelRecord.from_spool(json.loads(json.dumps(sink.records[1].to_spool()))) == sink.records[1]


def test_channel_events_of_another_guild_are_ignored() -> None:
    other = Gateway()
    sink = ListSink()
    listener = ChannelListener(CollectorConfig(guild_id=GUILD + 1, clock=lambda: NOW), sink)
    _, args = other.feed("CHANNEL_UPDATE", channel_payload(GENERAL, 2, "Elsewhere"))
    asyncio.run(listener.on_guild_channel_update(*args))
    assert sink.records == []
