"""One log line in a community's own shape → a validated voice record, through a mapping file.

The mapped values are assembled into the ARCHITECTURE.md voice record and handed, as JSON, to
the same :func:`parse_voice_line` that checks native lines, so ids, times and event types obey
exactly the same rules whatever the source. ``raw_payload`` is that voice record plus
``log_line``: the original line, whole — the documented fields stay where the transforms read
them (``username``, ``from_channel_id``) and nothing of the source is lost.

Lines that are not voice moves (a mute in the same channel, a value listed in
``event_type.skip``) are skipped and counted by reason; lines the mapping cannot read become
quarantine records with the reason, like bad native lines.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pwr_platform.ingest.mapping import FieldSource, LogMapping, as_text
from pwr_platform.ingest.records import Horizon, InvalidRecord, Record, parse_voice_line, rejected

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECONDS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": Decimal("0.001")}
# key=value, key="quoted \"value\"", or a bare key (true): the logfmt of Go's kr/logfmt and Loki.
LOGFMT_PAIR = re.compile(r'([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?')
SAME_CHANNEL = "same channel before and after (not a voice move)"

Value = Callable[[dict], Any]  # a mapping entry applied to one line's parsed fields


class Skip(Exception):  # noqa: N818 - a line that is deliberately not a record, not an error
    """The line is not a voice move; ``str(exc)`` is the reason it is counted under."""


def parse_logfmt(line: str) -> dict[str, str]:
    """``level=info msg="voice state" user=42`` → ``{"level": "info", "msg": "voice state", "user": "42"}``."""
    pairs: dict[str, str] = {}
    for key, value in LOGFMT_PAIR.findall(line):
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        pairs[key] = value
    return pairs


def _json_path(document: Any, parts: tuple[str, ...]) -> Any:
    value = document
    for part in parts:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdecimal() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _epoch(value: Any, unit: str) -> datetime:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int) or (isinstance(value, str) and value.isdecimal() and value.isascii()):
        whole = int(value)  # the common case, in integer arithmetic: exact and fast
        micros = whole // 1000 if unit == "ns" else whole * MICROSECONDS[unit]
    else:
        number = Decimal(str(value))
        if not number.is_finite():
            raise ValueError(value)
        micros = int((number * MICROSECONDS[unit]).to_integral_value(ROUND_FLOOR))
    return EPOCH + timedelta(microseconds=micros)


def _event_time(spec: FieldSource, value: Any) -> Any:
    """The mapped event time as ISO 8601 text; :func:`parse_timestamp` then checks it like any other."""
    try:
        if spec.epoch is not None:
            ts = _epoch(value, spec.epoch)
        elif spec.format is not None:
            ts = datetime.strptime(as_text(value), spec.format)
        elif isinstance(value, str):
            ts = datetime.fromisoformat(value)
        else:
            return value
    except (ValueError, ArithmeticError, InvalidOperation, OverflowError):
        how = (
            f"a number of {spec.epoch}"
            if spec.epoch
            else f"in format {spec.format!r}"
            if spec.format
            else "ISO 8601"
        )
        raise InvalidRecord(f"event_ts is not {how} (fields.event_ts): {value!r}") from None
    if ts.tzinfo is None and spec.timezone is not None:
        ts = ts.replace(tzinfo=ZoneInfo(spec.timezone))
    return ts.isoformat()


def _getter(source: str, nested: bool) -> Value:
    """Reads one source out of a line's parsed fields; a JSON path is split once, not per line."""
    parts = tuple(source.split("."))
    if not nested or len(parts) == 1:
        return lambda fields: fields.get(source)
    if len(parts) == 2:  # the common `member.id`: two lookups, no loop
        outer, inner = parts

        def two(fields: dict) -> Any:
            found = fields.get(outer)
            return found.get(inner) if type(found) is dict else _json_path(fields, parts)

        return two
    return lambda fields: _json_path(fields, parts)


def _compile(spec: FieldSource, key: str, nested: bool) -> Value:
    """One mapping entry as a function of the line's parsed fields: lookup, strip_prefix, map."""
    if spec.source is None:
        constant = spec.value
        get: Value = lambda fields: constant  # noqa: E731
    else:
        get = _getter(spec.source, nested)
    prefix, table, keep = spec.strip_prefix, spec.map, spec.unmapped == "keep"
    if not prefix and table is None:
        return get

    def value(fields: dict) -> Any:
        found = get(fields)
        if found is None:
            return None
        if prefix and isinstance(found, str):
            found = found.removeprefix(prefix)
        if table is not None:
            text = as_text(found)
            if text in table:
                return table[text]
            if not keep:
                raise InvalidRecord(f"{key}.map has no entry for the value: {text!r}")
        return found

    return value


class LineMapper:
    """Applies one :class:`LogMapping` to lines; counts the skipped ones by reason.

    Every mapping entry is compiled once into a small function of the line's parsed fields, so
    a line costs its parse plus a few dictionary lookups (``make bench`` prints the rate).
    """

    def __init__(self, mapping: LogMapping) -> None:
        self.mapping = mapping
        self.pattern = re.compile(mapping.pattern) if mapping.pattern else None
        self.skipped: Counter[str] = Counter()
        nested, rule = mapping.format == "json", mapping.event_type
        self._fields = [
            (name, _compile(spec, f"fields.{name}", nested), spec if name == "event_ts" else None)
            for name, spec in mapping.fields.items()
            if name not in ("discord_channel_id", "from_channel_id")
        ]
        if rule.by_channels:
            self._before = _compile(rule.before, "event_type.before", nested)
            self._after = _compile(rule.after, "event_type.after", nested)
        else:
            self._type = _compile(rule.source, "event_type", nested)
            self._channel = _compile(
                mapping.fields["discord_channel_id"], "fields.discord_channel_id", nested
            )
            moved_from = mapping.fields.get("from_channel_id")
            self._from = _compile(moved_from, "fields.from_channel_id", nested) if moved_from else None

    def take_skipped(self) -> Counter[str]:
        """The skip counts since the last call (one file's worth)."""
        counts, self.skipped = self.skipped, Counter()
        return counts

    def _parse(self, line: str) -> dict:
        fmt = self.mapping.format
        if fmt == "regex":
            match = self.pattern.search(line)
            if match is None:
                raise InvalidRecord("the line does not match the mapping's pattern")
            return match.groupdict()
        if fmt == "logfmt":
            return parse_logfmt(line)
        try:
            document = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise InvalidRecord(f"bad JSON: {exc}") from None
        if not isinstance(document, dict):
            raise InvalidRecord(f"not a JSON object but {type(document).__name__}")
        return document

    def _event(self, fields: dict) -> tuple[str, Any, Any]:
        """(event type, channel, from channel) by the mapping's event-type rule."""
        rule = self.mapping.event_type
        if rule.by_channels:
            before, after = self._before(fields), self._after(fields)
            before, after = (None if v in (None, "") else v for v in (before, after))
            if before is None and after is None:
                raise InvalidRecord("no channel before nor after (event_type.before / after)")
            if before is None:
                return "join", after, None
            if after is None:
                return "leave", before, None
            if as_text(before) == as_text(after):
                raise Skip(SAME_CHANNEL)
            return "move", after, before
        raw = self._type(fields)
        if raw is None:
            raise InvalidRecord(f"no event type in the line (event_type.from): {rule.source.source!r}")
        text = as_text(raw)
        if text in rule.skip:
            raise Skip(f"event type {text!r} (in event_type.skip)")
        if text not in rule.map:
            raise InvalidRecord(f"event_type.map (nor skip) has no entry for the value: {text!r}")
        return rule.map[text], self._channel(fields), self._from(fields) if self._from else None

    def voice_object(self, line: str) -> dict[str, Any]:
        """The voice record a line maps to (before validation), with the line itself as ``log_line``."""
        fields = self._parse(line)
        event_type, channel, moved_from = self._event(fields)
        record: dict[str, Any] = {"event_type": event_type}
        for name, value_of, time_spec in self._fields:
            value = value_of(fields)
            if value is not None:
                record[name] = value if time_spec is None else _event_time(time_spec, value)
        record["discord_channel_id"] = channel
        if event_type == "move":
            record["from_channel_id"] = moved_from
        record["log_line"] = line
        return record

    def check(
        self, line: str, source: str, source_ref: str | None, horizon: Horizon | None = None
    ) -> Record | None:
        """The record to store, its quarantine entry, or None for a skipped line (counted)."""
        text = line.rstrip("\r\n")
        source = "mapping" if source == "jsonl" else f"{source}+mapping"
        if not text.strip():
            return rejected(source, source_ref, text, "empty line")
        try:
            return parse_voice_line(json.dumps(self.voice_object(text)), horizon)
        except Skip as skip:
            self.skipped[str(skip)] += 1
            return None
        except InvalidRecord as exc:
            return rejected(source, source_ref, text, str(exc))
