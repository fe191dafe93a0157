"""Guild scheduled events: every observed state (create, each update, delete) is one record.

``pwr_core.events`` is derived from this history: the first ``active`` observation stamps
``actual_start_ts``, the first ``completed`` one ``actual_end_ts``; ``cancelled`` marks a
cancellation (Discord's CANCELED, or an event deleted before it started). The event's voice or
stage channel is kept (→ ``event_channels``); its type (scrim / inhouse / meeting) is read from
the name or description.

Discord's "interested" count (``user_count``) is not in gateway payloads: discord.py fills it
only from the REST API with ``with_counts``. So each observation fetches the event once over REST
(one call per create / update; they are rare) and records that count; when the fetch fails (a
network error, a missing permission) the observation is recorded all the same, with the count
the gateway gave (0). A deleted event cannot be fetched: its last count stays on earlier rows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import replace
from datetime import datetime

import discord
from discord.ext import commands

from pwr_platform.ingest.bot.config import CollectorConfig, RecordSink
from pwr_platform.ingest.records import ScheduledEventRecord

log = logging.getLogger(__name__)
COUNT_FETCH_SECONDS = 5.0

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
    event: discord.ScheduledEvent,
    *,
    now: datetime,
    trigger: str,
    status: str | None = None,
    user_count: int | None = None,
) -> ScheduledEventRecord:
    """The event's state as observed ``now`` (``status`` overrides Discord's, e.g. on delete;
    ``user_count`` the interested count fetched over REST, when there is one)."""
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
        "user_count": user_count if user_count is not None else event.user_count,
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


def with_interested_count(record: ScheduledEventRecord, count: int | None) -> ScheduledEventRecord:
    """``record`` with the interested count fetched after it was observed (None: unchanged)."""
    if count is None:
        return record
    payload = json.loads(record.payload)
    payload["user_count"] = count
    return replace(record, payload=json.dumps(payload))


async def interested_count(event: discord.ScheduledEvent) -> int | None:
    """The event's interested count from the REST API (``with_counts``), or None if unavailable."""
    guild = event.guild
    if guild is None:
        return None
    try:
        fetched = await asyncio.wait_for(
            guild.fetch_scheduled_event(event.id, with_counts=True), COUNT_FETCH_SECONDS
        )
    except Exception as exc:  # noqa: BLE001 - any failure: record the observation without the count
        log.info("scheduled event %s: interested count not fetched (%s)", event.id, type(exc).__name__)
        return None
    return fetched.user_count


async def interested_counts(guild: discord.Guild) -> dict[int, int]:
    """Every scheduled event's interested count in one REST call (the ready reconciliation)."""
    try:
        events = await asyncio.wait_for(guild.fetch_scheduled_events(with_counts=True), COUNT_FETCH_SECONDS)
    except Exception as exc:  # noqa: BLE001 - as above
        log.info("scheduled events: interested counts not fetched (%s)", type(exc).__name__)
        return {}
    return {e.id: e.user_count for e in events}


class ScheduledEventListener(commands.Cog):
    def __init__(self, config: CollectorConfig, sink: RecordSink) -> None:
        self.config = config
        self.sink = sink

    async def _record(self, event: discord.ScheduledEvent, trigger: str, status: str | None = None) -> None:
        if not self.config.watches(event.guild_id):
            return
        now = self.config.clock()  # observed when the dispatch came, not when the count came back
        count = None if trigger == "delete" else await interested_count(event)
        self.sink.put(
            scheduled_event_record(event, now=now, trigger=trigger, status=status, user_count=count)
        )

    @commands.Cog.listener()
    async def on_scheduled_event_create(self, event: discord.ScheduledEvent) -> None:
        await self._record(event, "create")

    @commands.Cog.listener()
    async def on_scheduled_event_update(
        self, before: discord.ScheduledEvent, after: discord.ScheduledEvent
    ) -> None:
        await self._record(after, "update")

    @commands.Cog.listener()
    async def on_scheduled_event_delete(self, event: discord.ScheduledEvent) -> None:
        await self._record(event, "delete", deleted_status(event))
