"""Plain record types for everything the ingestion paths write, and voice-record validation.

The bot, ``pwr ingest`` and the simulator all produce these records, so a handler or a parser can
be tested without Discord or PostgreSQL, and the writer knows one shape per raw table. Voice
records from untrusted text (log lines) go through :func:`parse_voice_line`; anything that fails
becomes a :class:`RejectedRecord` with a reason, never a guess.

The voice record format is fixed in ARCHITECTURE.md ("Voice record"); ``raw_payload`` keeps the
whole source record as JSON text, exactly as it arrived.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

VOICE_EVENT_TYPES = frozenset({"join", "leave", "move"})
MEMBER_EVENT_TYPES = frozenset({"join", "leave", "update", "snapshot", "voice"})
SCHEDULED_EVENT_STATUSES = frozenset({"scheduled", "active", "completed", "cancelled"})
REQUIRED_VOICE_FIELDS = (
    "event_type",
    "event_ts",
    "discord_guild_id",
    "discord_user_id",
    "discord_channel_id",
)

MAX_BIGINT = 2**63 - 1
# Discord went public on 2015-05-13; nothing it recorded can be older. Far-future stamps are typos.
EARLIEST_TS = datetime(2015, 5, 13, tzinfo=UTC)
LATEST_TS = datetime(2100, 1, 1, tzinfo=UTC)
# A log line stamped later than this machine's clock + this is quarantined: it would push the
# guild's data clock (its newest event, which times sessions out) into the future.
FUTURE_TOLERANCE = timedelta(minutes=5)
# A log line longer than this is quarantined unread: its first KEPT_BYTES, its length, the reason.
MAX_LINE_BYTES = 1 << 20
KEPT_BYTES = 4096


class InvalidRecord(ValueError):
    """A record failed validation; ``str(exc)`` is the reason (stored in quarantine for voice)."""


def check_not_before_discord(kind: str, field: str, ts: datetime | None) -> None:
    """Refuse an instant before Discord existed (or without a zone): no record of it can be true.

    Called by every record type's ``__post_init__``, so the bot, ``pwr ingest``, the simulator and
    a replayed spool all refuse it, whoever built the record.
    """
    if ts is None:
        return
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise InvalidRecord(f"{kind} record: {field} {ts.isoformat()} has no time zone")
    if ts < EARLIEST_TS:
        raise InvalidRecord(f"{kind} record: {field} {ts.isoformat()} is before Discord existed (2015-05-13)")


@dataclass(slots=True)
class VoiceRecord:
    """One voice join / leave / move → one row of ``pwr_raw.discord_voice_events``."""

    KIND: ClassVar[str] = "voice"
    event_type: str
    event_ts: datetime
    guild_id: int
    user_id: int
    channel_id: int
    payload: str  # JSON object text: the whole source record

    def __post_init__(self) -> None:
        check_not_before_discord(self.KIND, "event_ts", self.event_ts)

    def row(self) -> tuple:
        return (self.guild_id, self.user_id, self.channel_id, self.event_type, self.event_ts, self.payload)

    def to_spool(self) -> list:
        return [
            self.event_type,
            self.event_ts.isoformat(),
            self.guild_id,
            self.user_id,
            self.channel_id,
            self.payload,
        ]

    @classmethod
    def from_spool(cls, v: list) -> VoiceRecord:
        return cls(v[0], datetime.fromisoformat(v[1]), v[2], v[3], v[4], v[5])


@dataclass(slots=True)
class RejectedRecord:
    """An input that failed validation → ``pwr_raw.rejected_voice_events`` (quarantine)."""

    KIND: ClassVar[str] = "rejected"
    source: str
    source_ref: str | None
    raw_text: str
    reason: str

    def row(self) -> tuple:
        return (self.source, self.source_ref, self.raw_text, self.reason)

    def to_spool(self) -> list:
        return [self.source, self.source_ref, self.raw_text, self.reason]

    @classmethod
    def from_spool(cls, v: list) -> RejectedRecord:
        return cls(*v)


@dataclass(slots=True)
class HeartbeatRecord:
    """The collector was connected at ``ts`` → ``pwr_raw.collector_heartbeats``."""

    KIND: ClassVar[str] = "heartbeat"
    guild_id: int
    run_id: str
    ts: datetime

    def __post_init__(self) -> None:
        check_not_before_discord(self.KIND, "ts", self.ts)

    def row(self) -> tuple:
        return (self.guild_id, self.run_id, self.ts)

    def to_spool(self) -> list:
        return [self.guild_id, self.run_id, self.ts.isoformat()]

    @classmethod
    def from_spool(cls, v: list) -> HeartbeatRecord:
        return cls(v[0], v[1], datetime.fromisoformat(v[2]))


@dataclass(slots=True)
class MemberRecord:
    """A guild member joined, left, changed name, or was seen by a sync → ``discord_member_events``."""

    KIND: ClassVar[str] = "member"
    guild_id: int
    user_id: int
    event_type: str
    event_ts: datetime
    username: str | None = None
    display_name: str | None = None
    joined_at: datetime | None = None
    is_bot: bool = False
    payload: str = "{}"

    def __post_init__(self) -> None:
        check_not_before_discord(self.KIND, "event_ts", self.event_ts)
        check_not_before_discord(self.KIND, "joined_at", self.joined_at)

    def row(self) -> tuple:
        return (
            self.guild_id,
            self.user_id,
            self.event_type,
            self.event_ts,
            self.username,
            self.display_name,
            self.joined_at,
            self.is_bot,
            self.payload,
        )

    def to_spool(self) -> list:
        return [
            self.guild_id,
            self.user_id,
            self.event_type,
            self.event_ts.isoformat(),
            self.username,
            self.display_name,
            self.joined_at.isoformat() if self.joined_at else None,
            self.is_bot,
            self.payload,
        ]

    @classmethod
    def from_spool(cls, v: list) -> MemberRecord:
        joined = datetime.fromisoformat(v[6]) if v[6] else None
        return cls(v[0], v[1], v[2], datetime.fromisoformat(v[3]), v[4], v[5], joined, v[7], v[8])


@dataclass(slots=True)
class ScheduledEventRecord:
    """One observed state of a Discord scheduled event → ``pwr_raw.discord_scheduled_events``.

    ``pwr_core.events`` is derived from this history: ``actual_start_ts`` = first observed
    ``active``, ``actual_end_ts`` = first ``completed``.
    """

    KIND: ClassVar[str] = "scheduled_event"
    guild_id: int
    event_id: int
    observed_ts: datetime
    status: str
    name: str
    scheduled_start_ts: datetime
    scheduled_end_ts: datetime | None = None
    description: str | None = None
    event_type: str | None = None
    channel_id: int | None = None
    creator_id: int | None = None
    payload: str = "{}"

    def __post_init__(self) -> None:
        for field in ("observed_ts", "scheduled_start_ts", "scheduled_end_ts"):
            check_not_before_discord(self.KIND, field, getattr(self, field))

    def row(self) -> tuple:
        return (
            self.guild_id,
            self.event_id,
            self.observed_ts,
            self.status,
            self.name,
            self.description,
            self.event_type,
            self.scheduled_start_ts,
            self.scheduled_end_ts,
            self.channel_id,
            self.creator_id,
            self.payload,
        )

    def to_spool(self) -> list:
        return [
            self.guild_id,
            self.event_id,
            self.observed_ts.isoformat(),
            self.status,
            self.name,
            self.scheduled_start_ts.isoformat(),
            self.scheduled_end_ts.isoformat() if self.scheduled_end_ts else None,
            self.description,
            self.event_type,
            self.channel_id,
            self.creator_id,
            self.payload,
        ]

    @classmethod
    def from_spool(cls, v: list) -> ScheduledEventRecord:
        end = datetime.fromisoformat(v[6]) if v[6] else None
        return cls(
            v[0], v[1], datetime.fromisoformat(v[2]), v[3], v[4], datetime.fromisoformat(v[5]), end, *v[7:]
        )


EVENT_COMMAND_ACTIONS = frozenset({"start", "end"})


@dataclass(slots=True)
class EventCommandRecord:
    """An organizer ran ``/event start`` or ``/event end`` → ``pwr_raw.discord_event_commands``.

    Keyed by the interaction id (Discord's id of that one command invocation), so a replayed spool
    or a retried batch stores it once. ``sql/events.sql`` folds these into ``pwr_core.events``.
    """

    KIND: ClassVar[str] = "event_command"
    guild_id: int
    interaction_id: int
    action: str
    external_event_id: str
    recorded_ts: datetime
    organizer_id: int
    name: str | None = None
    event_type: str | None = None
    channel_ids: tuple[int, ...] = ()
    payload: str = "{}"

    def __post_init__(self) -> None:
        if self.action not in EVENT_COMMAND_ACTIONS:
            raise InvalidRecord(f"event_command record: unknown action {self.action!r} (start or end)")
        check_not_before_discord(self.KIND, "recorded_ts", self.recorded_ts)

    def row(self) -> tuple:
        return (
            self.guild_id,
            self.interaction_id,
            self.action,
            self.external_event_id,
            self.recorded_ts,
            self.name,
            self.event_type,
            "{" + ",".join(str(c) for c in self.channel_ids) + "}",
            self.organizer_id,
            self.payload,
        )

    def to_spool(self) -> list:
        return [
            self.guild_id,
            self.interaction_id,
            self.action,
            self.external_event_id,
            self.recorded_ts.isoformat(),
            self.organizer_id,
            self.name,
            self.event_type,
            list(self.channel_ids),
            self.payload,
        ]

    @classmethod
    def from_spool(cls, v: list) -> EventCommandRecord:
        return cls(v[0], v[1], v[2], v[3], datetime.fromisoformat(v[4]), v[5], v[6], v[7], tuple(v[8]), v[9])


CHANNEL_EVENT_TYPES = frozenset({"snapshot", "create", "update"})


@dataclass(slots=True)
class ChannelRecord:
    """A voice or stage channel's name, seen at a sync, a creation or a rename → ``discord_channel_events``."""

    KIND: ClassVar[str] = "channel"
    guild_id: int
    channel_id: int
    event_type: str
    event_ts: datetime
    channel_name: str
    payload: str = "{}"

    def __post_init__(self) -> None:
        check_not_before_discord(self.KIND, "event_ts", self.event_ts)
        if self.event_type not in CHANNEL_EVENT_TYPES:
            raise InvalidRecord(
                f"channel record: event_type {self.event_type!r} is not one of {sorted(CHANNEL_EVENT_TYPES)}"
            )

    def row(self) -> tuple:
        return (
            self.guild_id,
            self.channel_id,
            self.event_type,
            self.event_ts,
            self.channel_name,
            self.payload,
        )

    def to_spool(self) -> list:
        return [
            self.guild_id,
            self.channel_id,
            self.event_type,
            self.event_ts.isoformat(),
            self.channel_name,
            self.payload,
        ]

    @classmethod
    def from_spool(cls, v: list) -> ChannelRecord:
        return cls(v[0], v[1], v[2], datetime.fromisoformat(v[3]), v[4], v[5])


Record = (
    VoiceRecord
    | RejectedRecord
    | HeartbeatRecord
    | MemberRecord
    | ScheduledEventRecord
    | EventCommandRecord
    | ChannelRecord
)
RECORD_TYPES: dict[str, type] = {
    t.KIND: t
    for t in (
        VoiceRecord,
        RejectedRecord,
        HeartbeatRecord,
        MemberRecord,
        ScheduledEventRecord,
        EventCommandRecord,
        ChannelRecord,
    )
}


# --------------------------------------------------------------------------- validation
def _reject_constant(name: str) -> Any:
    # NaN / Infinity are not JSON and PostgreSQL's jsonb refuses them.
    raise ValueError(f"{name} is not valid JSON")


def _discord_id(obj: dict, field: str) -> int:
    value = obj[field]
    if type(value) is int:
        number = value
    elif type(value) is str and value.isdecimal() and value.isascii():
        number = int(value)
    else:
        raise InvalidRecord(f"{field} is not a numeric Discord id: {value!r}")
    if not 0 < number <= MAX_BIGINT:
        raise InvalidRecord(f"{field} is out of range for a Discord id: {value!r}")
    return number


def parse_timestamp(value: Any, field: str = "event_ts") -> datetime:
    """An ISO 8601 timestamp WITH a zone or offset, as an aware UTC datetime; no guessing."""
    if not isinstance(value, str):
        raise InvalidRecord(f"{field} is not an ISO 8601 string: {value!r}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRecord(f"{field} is not a valid ISO 8601 timestamp: {value!r}") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise InvalidRecord(f"{field} has no time zone or offset (refusing to guess): {value!r}")
    try:
        ts = ts.astimezone(UTC)
    except OverflowError:
        raise InvalidRecord(f"{field} is out of range: {value!r}") from None
    if not EARLIEST_TS <= ts < LATEST_TS:
        raise InvalidRecord(f"{field} is an impossible time for a Discord event: {value!r}")
    return ts


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Horizon:
    """The latest believable event time: this machine's clock + :data:`FUTURE_TOLERANCE`.

    A 2099 typo must not become the guild's newest event: sessions time out by that data clock,
    so every open session would be closed at its cap at once. The clock is read again only when a
    record is past the bound, so a long ingest costs one comparison per record and a line written
    while the file is being read is judged against the time it is read, not the start.
    """

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.limit = clock() + FUTURE_TOLERANCE

    def check(self, ts: datetime, field: str = "event_ts") -> None:
        if ts <= self.limit:
            return
        self.limit = self.clock() + FUTURE_TOLERANCE
        if ts > self.limit:
            now = (self.limit - FUTURE_TOLERANCE).isoformat(timespec="seconds")
            raise InvalidRecord(
                f"{field} {ts.isoformat()} is in the future (more than "
                f"{FUTURE_TOLERANCE.seconds // 60} minutes after this machine's clock, {now})"
            )


def voice_record_from_object(obj: Any, payload: str, horizon: Horizon | None = None) -> VoiceRecord:
    """Validate a decoded voice record (ARCHITECTURE.md, "Voice record"); ``payload`` is its JSON text.

    With a ``horizon``, a record stamped later than it is refused too (log backfills).
    """
    if type(obj) is not dict:
        raise InvalidRecord(f"not a JSON object but {type(obj).__name__}")
    missing = [f for f in REQUIRED_VOICE_FIELDS if obj.get(f) is None]
    event_type = obj.get("event_type")
    if event_type == "move" and obj.get("from_channel_id") is None:
        missing.append("from_channel_id")
    if missing:
        raise InvalidRecord(f"missing required field(s): {', '.join(missing)}")
    if event_type not in VOICE_EVENT_TYPES:
        raise InvalidRecord(f"unknown event_type {event_type!r} (expected join, leave or move)")
    guild_id = _discord_id(obj, "discord_guild_id")
    user_id = _discord_id(obj, "discord_user_id")
    channel_id = _discord_id(obj, "discord_channel_id")
    if event_type == "move":
        _discord_id(obj, "from_channel_id")
    ts = parse_timestamp(obj["event_ts"])
    if horizon is not None:
        horizon.check(ts)
    return VoiceRecord(event_type, ts, guild_id, user_id, channel_id, payload)


def decode_json(text: str) -> Any:
    """JSON text → value, or :class:`InvalidRecord` (NaN / Infinity and U+0000 refused up front)."""
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidRecord(f"bad JSON: {exc}") from None
    # PostgreSQL text and jsonb cannot hold U+0000: refuse it here, not as a failed batch later.
    if "\\u0000" in text and _has_nul(obj):
        raise InvalidRecord("contains a NUL character (\\u0000), which PostgreSQL cannot store")
    return obj


def parse_voice_line(line: str, horizon: Horizon | None = None) -> VoiceRecord:
    """One JSON text (a log line) → a validated :class:`VoiceRecord`, or :class:`InvalidRecord`."""
    text = line.strip()
    if not text:
        raise InvalidRecord("empty line")
    return voice_record_from_object(decode_json(text), text, horizon)


def rejected(source: str, source_ref: str | None, raw_text: str, reason: str) -> RejectedRecord:
    """A quarantine record; NUL characters are made visible since PostgreSQL TEXT cannot hold them."""
    return RejectedRecord(
        source, source_ref, raw_text.replace("\x00", "\\x00"), reason.replace("\x00", "\\x00")
    )


def oversized(source: str, source_ref: str | None, head: bytes, length: int) -> RejectedRecord:
    """The quarantine entry of a line over :data:`MAX_LINE_BYTES`: its first bytes and its length."""
    return rejected(
        source,
        source_ref,
        head[:KEPT_BYTES].decode("utf-8", "backslashreplace"),
        f"line too long: {length:,} bytes, over the limit of {MAX_LINE_BYTES:,} "
        f"(only its first {min(length, KEPT_BYTES):,} bytes are kept here)",
    )


def check_line(
    line: str, source: str, source_ref: str | None, horizon: Horizon | None = None
) -> VoiceRecord | RejectedRecord:
    """Validate a line: the record to store, or its quarantine entry with the reason."""
    try:
        return parse_voice_line(line, horizon)
    except InvalidRecord as exc:
        return rejected(source, source_ref, line.rstrip("\r\n"), str(exc))


def voice_payload(
    event_type: str,
    event_ts: datetime,
    guild_id: int,
    user_id: int,
    channel_id: int,
    **extra: Any,
) -> VoiceRecord:
    """Build a voice record from trusted values (bot, simulator); payload in the documented format."""
    # Millisecond precision, like Discord's own timestamps; the column and the payload agree.
    ts = event_ts.astimezone(UTC)
    ts = ts.replace(microsecond=ts.microsecond // 1000 * 1000)
    body: dict[str, Any] = {
        "event_type": event_type,
        "event_ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "discord_guild_id": str(guild_id),
        "discord_user_id": str(user_id),
        "discord_channel_id": str(channel_id),
    }
    for key, value in extra.items():
        if value is not None:
            body[key] = str(value) if key.endswith("_id") and isinstance(value, int) else value
    return VoiceRecord(event_type, ts, guild_id, user_id, channel_id, json.dumps(body))
