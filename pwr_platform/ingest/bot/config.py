"""What every listener needs to know: which guild, whether bots count, the clock, and a record sink."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pwr_platform.ingest.bot.clock import GuardedClock
from pwr_platform.ingest.records import Record


class RecordSink(Protocol):
    """Where handlers put records (the writer's asyncio queue in production, a list in tests)."""

    def put(self, record: Record) -> None: ...


@dataclass
class CollectorConfig:
    guild_id: int
    include_bots: bool = False
    members_intent: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # The guarded clock (never steps backwards, never believes a jump ahead); tests pass a fixed one.
    clock: Callable[[], datetime] = field(default_factory=GuardedClock)

    def watches(self, guild_id: int | None) -> bool:
        return guild_id == self.guild_id

    def counts(self, is_bot: bool) -> bool:
        """Whether a user is recorded at all: bots are left out unless PWR_BOT_INCLUDE_BOTS."""
        return self.include_bots or not is_bot
