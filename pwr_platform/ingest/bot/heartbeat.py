"""A heartbeat every minute while the collector is connected to the gateway.

``pwr_raw.collector_heartbeats`` is how the warehouse knows when the collector was down: the
sessionizer ends sessions open across a gap at the last heartbeat before it. So a heartbeat is
written only while the gateway connection is up (between ``on_ready`` / ``on_resumed`` and
``on_disconnect``), never merely because the process is alive.
"""

from __future__ import annotations

from discord.ext import commands, tasks

from pwr_platform.ingest.bot.config import CollectorConfig, RecordSink
from pwr_platform.ingest.records import HeartbeatRecord


class Heartbeat(commands.Cog):
    def __init__(self, config: CollectorConfig, sink: RecordSink, interval_seconds: float = 60.0) -> None:
        self.config = config
        self.sink = sink
        self.connected = False
        self.beat.change_interval(seconds=interval_seconds)

    async def cog_load(self) -> None:
        self.beat.start()

    async def cog_unload(self) -> None:
        self.beat.cancel()

    def record(self) -> HeartbeatRecord | None:
        """The heartbeat to write now, or None while disconnected."""
        if not self.connected:
            return None
        return HeartbeatRecord(self.config.guild_id, self.config.run_id, self.config.clock())

    @tasks.loop(seconds=60)
    async def beat(self) -> None:
        record = self.record()
        if record is not None:
            self.sink.put(record)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self.connected = True  # startup_sync writes the ready heartbeat itself

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        self.connected = True

    @commands.Cog.listener()
    async def on_disconnect(self) -> None:
        self.connected = False
