"""Voice joins, leaves and moves from ``on_voice_state_update``.

discord.py calls the handler for every voice-state change; only a change of channel is a voice
event. A mute / deafen / stream / video change inside the same channel is not (the flags are
kept in ``raw_payload`` of the next real event). Bots are left out unless configured, and a
channel that is the guild's AFK channel is flagged ``afk: true`` in the payload. The payload
also names the channel as Discord calls it at that moment (``channel_name``; for a move also
``from_channel_name``): ``pwr_core.voice_channels`` keeps each channel's newest name, so
dashboards show ``#general`` rather than an id, and a renamed channel takes its new name with its
next voice event.

A voice-state update carries the member object, with Discord's ``joined_at``, even without the
privileged members intent. The first time this process sees a member (or a new ``joined_at``: a
rejoin) it also writes a member record of type ``voice``, so ``pwr_core.members.join_date`` is
Discord's join date for everyone who uses voice. ``leave_date`` needs the members intent (only it
delivers member removals).
"""

from __future__ import annotations

from datetime import datetime

import discord
from discord.ext import commands

from pwr_platform.ingest.bot.config import CollectorConfig, RecordSink
from pwr_platform.ingest.bot.members import member_record
from pwr_platform.ingest.records import MemberRecord, VoiceRecord, voice_payload


def _flags(state: discord.VoiceState) -> dict:
    return {
        "self_mute": state.self_mute,
        "self_deaf": state.self_deaf,
        "mute": state.mute,
        "deaf": state.deaf,
        "self_stream": bool(state.self_stream),
        "self_video": state.self_video,
    }


def _is_afk(guild: discord.Guild, channel_id: int) -> bool | None:
    afk = guild.afk_channel
    return True if afk is not None and afk.id == channel_id else None


def voice_records(
    member: discord.Member,
    before: discord.VoiceState,
    after: discord.VoiceState,
    *,
    now: datetime,
    include_bots: bool = False,
    source: str = "bot",
) -> list[VoiceRecord]:
    """The voice event(s) one voice-state change means: [] for a mute-only change or a bot."""
    if member.bot and not include_bots:
        return []
    old, new = before.channel, after.channel
    if old is None and new is None:
        return []
    if old is not None and new is not None and old.id == new.id:
        return []  # same channel: mute / deafen / stream change, not a join
    guild = member.guild
    common = {"username": member.name, "display_name": member.display_name, "source": source}
    if member.bot:
        common["bot"] = True
    if new is None:
        return [
            voice_payload(
                "leave",
                now,
                guild.id,
                member.id,
                old.id,
                channel_name=old.name,
                afk=_is_afk(guild, old.id),
                **_flags(before),
                **common,
            )
        ]
    if old is None:
        return [
            voice_payload(
                "join",
                now,
                guild.id,
                member.id,
                new.id,
                channel_name=new.name,
                afk=_is_afk(guild, new.id),
                **_flags(after),
                **common,
            )
        ]
    return [
        voice_payload(
            "move",
            now,
            guild.id,
            member.id,
            new.id,
            from_channel_id=old.id,
            channel_name=new.name,
            from_channel_name=old.name,
            afk=_is_afk(guild, new.id),
            **_flags(after),
            **common,
        )
    ]


def joined_record(
    member: discord.Member, seen: set[tuple[int, datetime]], *, now: datetime
) -> MemberRecord | None:
    """A ``voice`` member record carrying ``joined_at``, once per (member, joined_at) in ``seen``."""
    joined_at = getattr(member, "joined_at", None)
    if joined_at is None or (member.id, joined_at) in seen:
        return None
    seen.add((member.id, joined_at))
    return member_record(member, member.guild.id, "voice", now=now)


class VoiceListener(commands.Cog):
    def __init__(self, config: CollectorConfig, sink: RecordSink) -> None:
        self.config = config
        self.sink = sink
        self.joined_seen: set[tuple[int, datetime]] = set()

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        if not self.config.watches(member.guild.id):
            return
        now = self.config.clock()
        records = voice_records(member, before, after, now=now, include_bots=self.config.include_bots)
        for record in records:
            self.sink.put(record)
        if records:
            joined = joined_record(member, self.joined_seen, now=now)
            if joined is not None:
                self.sink.put(joined)
