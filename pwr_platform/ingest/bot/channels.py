"""Voice and stage channel names: created, renamed, and as they are at every ``on_ready``.

A channel's name also rides on every voice payload (``channel_name``), but a channel renamed while
nobody is in it would keep its old name on the dashboards until its next voice event. These
records give ``pwr_core.voice_channels`` the new name at once (``sql/voice_channels.sql`` takes the
newest name from both sources). Discord sends channel events with the ``guilds`` intent the
collector already has; text and other channels are not recorded.
"""

from __future__ import annotations

import json
from datetime import datetime

import discord
from discord.ext import commands

from pwr_platform.ingest.bot.config import CollectorConfig, RecordSink
from pwr_platform.ingest.records import ChannelRecord

VOICE_CHANNEL_CLASSES = (discord.VoiceChannel, discord.StageChannel)


def channel_record(
    channel: discord.VoiceChannel | discord.StageChannel, event_type: str, *, now: datetime
) -> ChannelRecord:
    payload = {"id": str(channel.id), "name": channel.name, "type": channel.type.name, "source": "bot"}
    return ChannelRecord(
        guild_id=channel.guild.id,
        channel_id=channel.id,
        event_type=event_type,
        event_ts=now,
        channel_name=channel.name,
        payload=json.dumps(payload),
    )


def channel_snapshot(guild: discord.Guild, *, now: datetime) -> list[ChannelRecord]:
    """A ``snapshot`` record of every voice and stage channel of ``guild`` right now."""
    return [channel_record(c, "snapshot", now=now) for c in [*guild.voice_channels, *guild.stage_channels]]


class ChannelListener(commands.Cog):
    def __init__(self, config: CollectorConfig, sink: RecordSink) -> None:
        self.config = config
        self.sink = sink

    def _record(self, channel: discord.abc.GuildChannel, event_type: str) -> None:
        if isinstance(channel, VOICE_CHANNEL_CLASSES) and self.config.watches(channel.guild.id):
            self.sink.put(channel_record(channel, event_type, now=self.config.clock()))

    @commands.Cog.listener()
    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        self._record(channel, "create")

    @commands.Cog.listener()
    async def on_guild_channel_update(
        self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel
    ) -> None:
        if before.name != after.name:  # a move in the list or a permission change is not a rename
            self._record(after, "update")
