"""The collector process: a discord.py client with the listener cogs and the writer task.

Its exits are deliberate: SIGTERM / SIGINT (``docker compose stop``, Ctrl-C) disconnect from the
gateway first (no new records), then every record queued or held goes to PostgreSQL or the spool
before the process ends (status 0). A writer that has failed past its limit ends the process with
:data:`EXIT_WRITER_FAILED`, after the same drain, so a supervisor (compose ``restart:``) starts a
fresh one, which adopts and replays the spool.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path

import discord
import yarl
from discord.ext import commands

from pwr_platform.ingest.bot.channels import ChannelListener
from pwr_platform.ingest.bot.commands import CommandContext, register_commands
from pwr_platform.ingest.bot.config import CollectorConfig
from pwr_platform.ingest.bot.heartbeat import Heartbeat
from pwr_platform.ingest.bot.members import MemberListener
from pwr_platform.ingest.bot.reader import BotReader
from pwr_platform.ingest.bot.scheduled_events import ScheduledEventListener
from pwr_platform.ingest.bot.startup_sync import StartupSync
from pwr_platform.ingest.bot.voice import VoiceListener
from pwr_platform.ingest.spool import Spool
from pwr_platform.ingest.writer import QueueWriter, SessionLimits, Writer, WriterFailed

log = logging.getLogger(__name__)

EXIT_WRITER_FAILED = 3
EXIT_RECORDS_LOST = 4


def collector_intents(members: bool) -> discord.Intents:
    """Non-privileged intents for guilds, voice states and scheduled events; members if enabled."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.voice_states = True
    intents.guild_scheduled_events = True
    intents.members = members
    return intents


def use_discord_endpoints(api_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py at another REST base / gateway (a local test gateway); None keeps Discord's.

    ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` are the class attributes discord.py
    builds every REST URL and its first gateway connection from (a RESUME then follows the
    ``resume_gateway_url`` the gateway sends in READY).
    """
    if api_url:
        discord.http.Route.BASE = api_url.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


@dataclass(frozen=True)
class WriterOptions:
    """How the collector's writer behaves under failure (from the ``PWR_BOT_*`` / ``PWR_WRITER_*`` settings)."""

    limits: SessionLimits = field(default_factory=SessionLimits)
    max_queue: int = 10_000
    give_up_after: float = 300.0
    stop_drain_seconds: float = 10.0
    status_file: Path | None = None


@dataclass(frozen=True)
class CommandOptions:
    """The application commands' settings: who organizes, and where the commands read from."""

    reader: BotReader | None = None
    organizer_role_id: int | None = None


class Collector(commands.Bot):
    def __init__(
        self, config: CollectorConfig, sink: QueueWriter, command_options: CommandOptions | None = None
    ) -> None:
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
        options = command_options or CommandOptions()
        register_commands(
            self.tree,
            CommandContext(config, sink, options.reader, organizer_role_id=options.organizer_role_id),
        )

    async def setup_hook(self) -> None:
        await self.add_cog(VoiceListener(self.config, self.sink))
        await self.add_cog(ScheduledEventListener(self.config, self.sink))
        await self.add_cog(MemberListener(self.config, self.sink))
        await self.add_cog(ChannelListener(self.config, self.sink))
        await self.add_cog(StartupSync(self, self.config, self.sink))
        await self.add_cog(Heartbeat(self.config, self.sink))


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def on_signal(signum: signal.Signals) -> None:
        log.info("collector: %s received; disconnecting and writing out the queue", signum.name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)


async def run_collector(
    config: CollectorConfig,
    token: str,
    database_url: str,
    spool_root: Path,
    options: WriterOptions | None = None,
    command_options: CommandOptions | None = None,
) -> int:
    """Run until SIGTERM / SIGINT (returns 0) or until the writer gives up (returns non-zero)."""
    options = options or WriterOptions()
    with Spool(spool_root, "bot") as spool:
        writer = Writer(database_url, spool=spool, batch_size=1000, limits=options.limits)
        sink = QueueWriter(
            writer,
            max_queue=options.max_queue,
            give_up_after=options.give_up_after,
            status_file=options.status_file,
        )
        stop = asyncio.Event()
        _stop_on_signals(stop)
        writer_task = asyncio.create_task(sink.run(), name="pwr-writer")
        stop_task = asyncio.create_task(stop.wait(), name="pwr-stop")
        async with Collector(config, sink, command_options) as bot:
            bot_task = asyncio.create_task(bot.start(token), name="pwr-gateway")
            await asyncio.wait({bot_task, writer_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
            await bot.close()  # no new records from here on
        for _ in range(3):  # let listener tasks already dispatched put their records
            await asyncio.sleep(0)
        stop_task.cancel()
        sink.request_stop()
        failed: Exception | None = None
        try:
            await writer_task
        except WriterFailed as exc:
            failed = exc
        except Exception as exc:  # a bug in the loop itself: still write out the queue below
            log.exception("collector: the writer loop crashed")
            failed = exc
        lost = await sink.close()
        await asyncio.to_thread(writer.close, options.stop_drain_seconds)
        if spool.pending:
            log.warning(
                "collector: %d records remain spooled in %s; the next writer to start replays them",
                spool.pending_records,
                spool.dir,
            )
    if failed is not None:
        log.critical(
            "collector: WRITER FAILED: %s. Exiting with status %d so the supervisor restarts the collector; "
            "records not committed are in the spool.",
            failed,
            EXIT_WRITER_FAILED,
        )
        return EXIT_WRITER_FAILED
    if lost:
        log.critical("collector: %d records were LOST (neither PostgreSQL nor the spool took them)", lost)
        return EXIT_RECORDS_LOST
    if bot_task.done() and not bot_task.cancelled() and bot_task.exception() is not None:
        raise bot_task.exception()
    return 0
