"""The collector process: a discord.py client with the listener cogs and the writer task."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from pwr_platform.ingest.bot.config import CollectorConfig
from pwr_platform.ingest.bot.heartbeat import Heartbeat
from pwr_platform.ingest.bot.members import MemberListener
from pwr_platform.ingest.bot.scheduled_events import ScheduledEventListener
from pwr_platform.ingest.bot.startup_sync import StartupSync
from pwr_platform.ingest.bot.voice import VoiceListener
from pwr_platform.ingest.spool import Spool
from pwr_platform.ingest.writer import QueueWriter, Writer

log = logging.getLogger(__name__)


def collector_intents(members: bool) -> discord.Intents:
    """Non-privileged intents for guilds, voice states and scheduled events; members if enabled."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.voice_states = True
    intents.guild_scheduled_events = True
    intents.members = members
    return intents


class Collector(commands.Bot):
    def __init__(self, config: CollectorConfig, sink: QueueWriter) -> None:
        intents = collector_intents(config.members_intent)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            member_cache_flags=discord.MemberCacheFlags.from_intents(intents),
            chunk_guilds_at_startup=config.members_intent,
        )
        self.config = config
        self.sink = sink

    async def setup_hook(self) -> None:
        await self.add_cog(VoiceListener(self.config, self.sink))
        await self.add_cog(ScheduledEventListener(self.config, self.sink))
        await self.add_cog(MemberListener(self.config, self.sink))
        await self.add_cog(StartupSync(self, self.config, self.sink))
        await self.add_cog(Heartbeat(self.config, self.sink))


async def run_collector(config: CollectorConfig, token: str, database_url: str, spool_root) -> None:
    """Run until cancelled: the gateway client, and the writer draining its queue into PostgreSQL."""
    with Spool(spool_root, "bot") as spool:
        writer = Writer(database_url, spool=spool, batch_size=1000)
        sink = QueueWriter(writer)
        writer_task = asyncio.create_task(sink.run(), name="pwr-writer")
        try:
            async with Collector(config, sink) as bot:
                await bot.start(token)
        finally:
            sink.request_stop()
            await asyncio.gather(writer_task, return_exceptions=True)
            await sink.close()
            await asyncio.to_thread(writer.close, 10.0)
            if spool.pending:
                log.warning(
                    "collector: %d records remain spooled in %s; the next writer to start replays them",
                    spool.pending_records,
                    spool.dir,
                )
