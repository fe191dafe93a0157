"""Reconciliation on every ``on_ready``: record the state the collector may have missed.

discord.py calls ``on_ready`` after the first connection and again whenever a session could not
be resumed — and events missed in between are NOT replayed. So at every ready the collector
records, observed at that moment:

- a ``join`` (``raw_payload.source = "snapshot"``) for every member already in a voice channel,
  so the sessionizer can close what was open before the outage (at the collector gap) and open
  what is open now;
- the current state of every scheduled event (a transition missed while away shows up here),
  with its interested count fetched over REST once the rest is recorded;
- with the members intent, a ``snapshot`` member record for every member (names, joined_at);
- a ``snapshot`` channel record of every voice and stage channel (a rename missed while away
  shows up here);
- a heartbeat, so the collector's uptime starts exactly here.
"""

from __future__ import annotations

import logging
from datetime import datetime

import discord
from discord.ext import commands

from pwr_platform.ingest.bot.channels import channel_snapshot
from pwr_platform.ingest.bot.config import CollectorConfig, RecordSink
from pwr_platform.ingest.bot.members import member_record
from pwr_platform.ingest.bot.scheduled_events import (
    interested_counts,
    scheduled_event_record,
    with_interested_count,
)
from pwr_platform.ingest.bot.voice import _flags, _is_afk
from pwr_platform.ingest.records import HeartbeatRecord, Record, ScheduledEventRecord, voice_payload

log = logging.getLogger(__name__)


def voice_snapshot(guild: discord.Guild, *, now: datetime, include_bots: bool = False) -> list[Record]:
    """A snapshot ``join`` for everyone in voice in ``guild`` right now."""
    records: list[Record] = []
    for channel in [*guild.voice_channels, *guild.stage_channels]:
        for user_id, state in sorted(channel.voice_states.items()):
            member = guild.get_member(user_id)
            if member is not None and member.bot and not include_bots:
                continue
            names = {"username": member.name, "display_name": member.display_name} if member else {}
            records.append(
                voice_payload(
                    "join",
                    now,
                    guild.id,
                    user_id,
                    channel.id,
                    channel_name=channel.name,
                    afk=_is_afk(guild, channel.id),
                    source="snapshot",
                    **_flags(state),
                    **names,
                )
            )
    return records


def reconciliation(guild: discord.Guild, config: CollectorConfig) -> list[Record]:
    """Everything recorded at one ``on_ready`` for ``guild``, observed at one instant."""
    now = config.clock()
    records: list[Record] = [HeartbeatRecord(guild.id, config.run_id, now)]
    records += voice_snapshot(guild, now=now, include_bots=config.include_bots)
    records += channel_snapshot(guild, now=now)
    records += [scheduled_event_record(e, now=now, trigger="sync") for e in guild.scheduled_events]
    if config.members_intent:
        records += [
            member_record(m, guild.id, "snapshot", now=now) for m in guild.members if config.counts(m.bot)
        ]
    return records


class StartupSync(commands.Cog):
    def __init__(self, bot: commands.Bot, config: CollectorConfig, sink: RecordSink) -> None:
        self.bot = bot
        self.config = config
        self.sink = sink

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        guild = self.bot.get_guild(self.config.guild_id)
        if guild is None:
            visible = ", ".join(f"{g.name} ({g.id})" for g in self.bot.guilds) or "none"
            log.error(
                "collector: guild %s is not visible to this bot (visible: %s)", self.config.guild_id, visible
            )
            return
        if self.config.members_intent and not guild.chunked:
            await guild.chunk()
        records = reconciliation(guild, self.config)  # the state at one instant, before any await
        events = [r for r in records if isinstance(r, ScheduledEventRecord)]
        for record in records:
            if not isinstance(record, ScheduledEventRecord):
                self.sink.put(record)
        counts = await interested_counts(guild) if events else {}
        for record in events:
            self.sink.put(with_interested_count(record, counts.get(record.event_id)))
        log.info("collector: ready in %s; reconciliation recorded %d records", guild.name, len(records))
