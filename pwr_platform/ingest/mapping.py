"""The voice-log mapping file: how to read a community's own log shape as voice records.

A community that switches to the platform has months of logs written by *its* bot, in *its*
shape. A mapping file (YAML) says how one such shape becomes the ARCHITECTURE.md voice record:
the line format (``json``, ``logfmt`` or ``regex`` with named groups), where each field comes
from (with a few transforms), and how the event type is decided. README "Mapping files" shows
examples; ``examples/log-mappings/`` holds three with sample logs.

The file is validated here, as a whole, before any log line is read: a typo in the mapping would
otherwise quarantine every line of a big file for the same reason. Every problem is reported
with the key path in the mapping file (``fields.discord_user_id.from``), never a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pwr_platform.ingest.records import VOICE_EVENT_TYPES

# Where a voice record's identity comes from; the event type has its own rule (``event_type``).
REQUIRED_FIELDS = ("event_ts", "discord_guild_id", "discord_user_id")
CHANNEL_FIELDS = ("discord_channel_id", "from_channel_id")
# Optional fields the platform reads from raw_payload (members.sql: names) or the bot writes.
OPTIONAL_FIELDS = (
    "username",
    "display_name",
    "channel_name",
    "from_channel_name",
    "self_mute",
    "self_deaf",
    "mute",
    "deaf",
    "self_stream",
    "self_video",
    "afk",
    "source",
)
VOICE_FIELDS = REQUIRED_FIELDS + CHANNEL_FIELDS + OPTIONAL_FIELDS
EPOCH_UNITS = ("s", "ms", "us", "ns")
Scalar = str | int | float | bool | None


def as_text(value: Any) -> str:
    """A value as the text a log line would hold (YAML reads `true` as a boolean, `1` as a number)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _keys_as_text(value: Any) -> Any:
    # YAML reads `1:` or `true:` map keys as numbers / booleans; log text is always a string.
    return {as_text(k): v for k, v in value.items()} if isinstance(value, dict) else value


class MappingError(ValueError):
    """The mapping file cannot be used; ``str(exc)`` names the file and every bad key."""


class FieldSource(BaseModel):
    """Where one value comes from, and the transforms applied to it in this order:
    ``strip_prefix``, then ``map``, then (event time only) ``format`` / ``epoch`` / ``timezone``.

    Written either as a mapping (``{from: member.id, strip_prefix: "user:"}``) or, for a plain
    lookup, as the source name alone (``member.id``). ``from`` is a dotted JSON path (list
    indexes as numbers), a logfmt key, or a regex group name; ``value`` is a constant instead.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str | None = Field(default=None, alias="from")
    value: Any = None
    strip_prefix: str | None = None
    map: Annotated[dict[str, Any] | None, BeforeValidator(_keys_as_text)] = None
    unmapped: Literal["reject", "keep"] = "reject"
    format: str | None = None
    epoch: Literal["s", "ms", "us", "ns"] | None = None
    timezone: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"from": data}
        if not isinstance(data, dict):
            raise ValueError("expected a source name or a mapping with `from` (or `value`)")
        return data

    @field_validator("value")
    @classmethod
    def _scalar(cls, value: Any) -> Any:
        if not isinstance(value, Scalar):
            raise ValueError(f"a constant must be text, a number or true/false, not {type(value).__name__}")
        return value

    @field_validator("map")
    @classmethod
    def _scalar_targets(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key, target in (value or {}).items():
            if not isinstance(target, Scalar):
                raise ValueError(
                    f"{key!r} maps to a {type(target).__name__}; map to text, a number, true/false or null"
                )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {value!r} (an IANA name such as UTC or Europe/Paris)"
                ) from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> FieldSource:
        if (self.source is None) == (self.value is None):
            raise ValueError(
                "give exactly one of `from` (where the value is in the line) or `value` (a constant)"
            )
        if self.format is not None and self.epoch is not None:
            raise ValueError("give `format` or `epoch`, not both")
        return self

    @property
    def is_time_parse(self) -> bool:
        return self.format is not None or self.epoch is not None or self.timezone is not None


class EventTypeRule(BaseModel):
    """How a line's event type is decided: one of two styles.

    - ``from`` + ``map`` (+ ``skip``): a field whose values map to join / leave / move; values in
      ``skip`` (mute, deafen …) are not voice moves: skipped and counted.
    - ``before`` + ``after``: the channel before and after the change. none → channel = join,
      channel → none = leave, channel → other channel = move, same channel = skipped and counted.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: FieldSource | None = Field(default=None, alias="from")
    map: Annotated[dict[str, str] | None, BeforeValidator(_keys_as_text)] = None
    skip: list[str] = []
    before: FieldSource | None = None
    after: FieldSource | None = None

    @field_validator("skip", mode="before")
    @classmethod
    def _skip_as_text(cls, value: Any) -> Any:
        return [as_text(v) for v in value] if isinstance(value, list) else value

    @field_validator("map")
    @classmethod
    def _voice_types(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key, target in (value or {}).items():
            if target not in VOICE_EVENT_TYPES:
                raise ValueError(f"{key!r} maps to {target!r}; the targets are join, leave and move")
        return value

    @model_validator(mode="after")
    def _one_style(self) -> EventTypeRule:
        by_field = self.source is not None or self.map is not None
        by_channels = self.before is not None or self.after is not None
        if by_field and by_channels:
            raise ValueError("use either `from` + `map` or `before` + `after`, not both")
        if by_field and (self.source is None or not self.map):
            raise ValueError("`from` needs a `map` of its values to join / leave / move (and the reverse)")
        if by_channels and (self.before is None or self.after is None):
            raise ValueError("`before` and `after` go together (the channel before and after the change)")
        if not by_field and not by_channels:
            raise ValueError("no event-type rule: give `from` + `map`, or `before` + `after`")
        return self

    @property
    def by_channels(self) -> bool:
        return self.before is not None


class LogMapping(BaseModel):
    """One log shape → voice records (the whole mapping file)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["json", "logfmt", "regex"]
    pattern: str | None = None
    fields: dict[str, FieldSource]
    event_type: EventTypeRule

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regex: {exc}") from None
            if not compiled.groupindex:
                raise ValueError("the regex has no named groups such as (?P<user>\\d+)")
        return value

    def source_names(self) -> list[tuple[str, str]]:
        """(mapping key, source name) of every lookup, for checking against the regex groups."""
        named = [(f"fields.{k}.from", f.source) for k, f in self.fields.items()]
        rule = self.event_type
        named += [
            (f"event_type.{k}.from", getattr(rule, k).source) for k in ("before", "after") if getattr(rule, k)
        ]
        if rule.source is not None:
            named.append(("event_type.from", rule.source.source))
        return [(key, name) for key, name in named if name is not None]


def _unknown_fields(document: dict) -> list[tuple[str, str]]:
    fields = document.get("fields")
    if not isinstance(fields, dict):
        return []
    known = f"the voice-record fields are {', '.join(VOICE_FIELDS)} (event_type has its own rule)"
    return [(f"fields.{name}", f"unknown field; {known}") for name in fields if name not in VOICE_FIELDS]


def _problems(mapping: LogMapping) -> list[tuple[str, str]]:
    """Rules that span keys (pydantic checks each key on its own)."""
    found: list[tuple[str, str]] = []
    fields, rule = mapping.fields, mapping.event_type
    for name in REQUIRED_FIELDS:
        if name not in fields:
            found.append(
                (f"fields.{name}", "required: where the line's value comes from (or a constant `value`)")
            )
    if rule.by_channels:
        for name in CHANNEL_FIELDS:
            if name in fields:
                found.append((f"fields.{name}", "comes from event_type.before / after here; remove it"))
    else:
        if "discord_channel_id" not in fields:
            found.append(("fields.discord_channel_id", "required (the channel joined, left or moved to)"))
        if "move" in (rule.map or {}).values() and "from_channel_id" not in fields:
            found.append(("fields.from_channel_id", "required: event_type.map has a move"))
    event_ts = fields.get("event_ts")
    if event_ts is not None and event_ts.timezone is None and "%z" not in (event_ts.format or "%z"):
        found.append(("fields.event_ts.format", "has no %z (offset): say which zone with `timezone`"))
    for name, source in fields.items():
        if name != "event_ts" and source.is_time_parse:
            found.append((f"fields.{name}", "format / epoch / timezone apply to event_ts only"))
    if mapping.format == "regex":
        if mapping.pattern is None:
            found.append(("pattern", "required for format regex (a regular expression with named groups)"))
        else:
            groups = re.compile(mapping.pattern).groupindex
            for key, name in mapping.source_names():
                if name not in groups:
                    found.append((key, f"{name!r} is not a named group of the pattern ({', '.join(groups)})"))
    elif mapping.pattern is not None:
        found.append(("pattern", f"only used with format regex (this mapping is {mapping.format})"))
    return found


def _location(loc: tuple) -> str:
    # pydantic adds the union member or validator name to some locations; keep only the keys.
    tags = {"str", "int", "float", "bool", "none"}
    return ".".join(str(p) for p in loc if str(p) not in tags and not str(p).startswith("function-"))


def parse_mapping(document: Any, origin: str) -> LogMapping:
    """A decoded mapping document → :class:`LogMapping`, or :class:`MappingError` naming every bad key."""
    if not isinstance(document, dict):
        raise MappingError(f"{origin}: expected a mapping with format, fields and event_type")
    problems = _unknown_fields(document)
    mapping = None
    try:
        mapping = LogMapping.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            elif error["type"] == "missing":
                message = "required key is missing"
            problems.append((_location(error["loc"]) or "(top level)", message))
    if mapping is not None and not problems:
        problems = _problems(mapping)
    if problems:
        raise MappingError(f"{origin}: invalid mapping\n" + "\n".join(f"  {k}: {m}" for k, m in problems))
    return mapping


def mapping_from_text(text: str, origin: str) -> LogMapping:
    """YAML text → :class:`LogMapping`; ``origin`` (the file name) starts every error message."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{origin}: not valid YAML: {exc}") from None
    return parse_mapping(document, origin)


def load_mapping(path: Path) -> LogMapping:
    """Read and validate a mapping file; every problem is a :class:`MappingError` naming the key."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{path}: cannot read the mapping file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise MappingError(f"{path}: the mapping file is not UTF-8 text") from None
    return mapping_from_text(text, str(path))
