"""Guild scheduled events: every observed state (create, each update, delete) is one record.

``pwr_core.events`` is derived from this history: the first ``active`` observation stamps
``actual_start_ts``, the first ``completed`` one ``actual_end_ts``; ``cancelled`` marks a
cancellation (Discord's CANCELED, or an event deleted before it started). The event's voice or
stage channel is kept (→ ``event_channels``); its type (scrim / inhouse / meeting) is read from
the name or description.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import discord
from discord.ext import commands

from pwr_platform.ingest.bot.config import CollectorConfig, RecordSink
from pwr_platform.ingest.records import ScheduledEventRecord

STATUS_NAMES = {
    discord.EventStatus.scheduled: "scheduled",
    discord.EventStatus.active: "active",
    discord.EventStatus.completed: "completed",
    discord.EventStatus.cancelled: "cancelled",
}
EVENT_TYPE_PATTERNS = (
    ("scrim", re.compile(r"\bscrims?\b", re.I)),
    ("inhouse", re.compile(r"\bin-?house", re.I)),
    ("meeting", re.compile(r"\b(meeting|town ?hall|assembly)\b", re.I)),
)


def classify_event_type(name: str, description: str | None) -> str | None:
    """scrim / inhouse / meeting from the event's name, else its description; None when unclear."""
    for text in (name, description or ""):
        for event_type, pattern in EVENT_TYPE_PATTERNS:
            if pattern.search(text):
                return event_type
    return None


def scheduled_event_record(
    event: discord.ScheduledEvent, *, now: datetime, trigger: str, status: str | None = None
) -> ScheduledEventRecord:
    """The event's state as observed ``now`` (``status`` overrides Discord's, e.g. on delete)."""
    status = status or STATUS_NAMES.get(event.status, "scheduled")
    payload = {
        "id": str(event.id),
        "status": status,
        "discord_status": event.status.name,
        "name": event.name,
        "entity_type": event.entity_type.name,
        "channel_id": str(event.channel_id) if event.channel_id else None,
        "location": event.location,
        "creator_id": str(event.creator_id) if event.creator_id else None,
        "scheduled_start_time": event.start_time.isoformat(),
        "scheduled_end_time": event.end_time.isoformat() if event.end_time else None,
        "user_count": event.user_count,
        "trigger": trigger,
        "source": "bot",
    }
    return ScheduledEventRecord(
        guild_id=event.guild_id,
        event_id=event.id,
        observed_ts=now,
        status=status,
        name=event.name,
        scheduled_start_ts=event.start_time,
        scheduled_end_ts=event.end_time,
        description=event.description,
        event_type=classify_event_type(event.name, event.description),
        channel_id=event.channel_id,
        creator_id=event.creator_id,
        payload=json.dumps(payload),
    )


def deleted_status(event: discord.ScheduledEvent) -> str:
    """Deleting an event that never ran cancels it; a deleted active / completed event keeps its state."""
    status = STATUS_NAMES.get(event.status, "scheduled")
    return "cancelled" if status == "scheduled" else status


class ScheduledEventListener(commands.Cog):
    def __init__(self, config: CollectorConfig, sink: RecordSink) -> None:
        self.config = config
        self.sink = sink

    def _record(self, event: discord.ScheduledEvent, trigger: str, status: str | None = None) -> None:
        if self.config.watches(event.guild_id):
            self.sink.put(
                scheduled_event_record(event, now=self.config.clock(), trigger=trigger, status=status)
            )

    @commands.Cog.listener()
    async def on_scheduled_event_create(self, event: discord.ScheduledEvent) -> None:
        self._record(event, "create")

    @commands.Cog.listener()
    async def on_scheduled_event_update(
        self, before: discord.ScheduledEvent, after: discord.ScheduledEvent
    ) -> None:
        self._record(after, "update")

    @commands.Cog.listener()
    async def on_scheduled_event_delete(self, event: discord.ScheduledEvent) -> None:
        self._record(event, "delete", deleted_status(event))
