"""The events file of ``pwr events import`` (ARCHITECTURE.md, "Events file"): parse and validate.

CSV with a header row, or YAML (a list of mappings with the same keys). Every row is checked
before anything is written; all problems are reported together, each naming its row and field,
so a bad file is fixed in one pass and never half-imported.

Each row is validated by one pydantic model, :class:`EventRow`, so every problem carries the
field it belongs to, whichever file type it came from. YAML is read with a loader that keeps
every scalar a string (timestamps are checked like CSV cells) and refuses anchors and aliases
before they are expanded (a few lines of aliases can expand to gigabytes), and files larger than
:data:`MAX_FILE_BYTES` are refused unread: memory stays bounded whatever the file holds.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from pwr_platform.ingest.records import EARLIEST_TS, LATEST_TS, MAX_BIGINT

COLUMNS = (
    "external_event_id",
    "name",
    "event_type",
    "description",
    "scheduled_start_ts",
    "scheduled_end_ts",
    "actual_start_ts",
    "actual_end_ts",
    "host_discord_user_id",
    "channel_ids",
    "status",
)
REQUIRED = ("external_event_id", "name", "scheduled_start_ts")
STATUSES = ("scheduled", "active", "completed", "cancelled")
RESERVED_PREFIX = "discord:"  # ids of events derived from Discord's own records
# An events file holds one row per community event: a few hundred rows, a few kB. Far larger
# is a wrong file, refused before it is read.
MAX_FILE_BYTES = 4 << 20


class EventsFileError(ValueError):
    """The file cannot be imported; ``problems`` lists every "row …, field …: why"."""

    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        super().__init__(f"{path}: {len(problems)} problem(s), nothing imported:\n  " + "\n  ".join(problems))


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with a zone or offset (``Z`` or ``+01:00``); naive times are refused, and so are
    times before Discord existed (2015-05-13) or after 2099 (typos)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp (write e.g. 2026-11-01T19:00:00Z)") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{text!r} has no time zone offset (write e.g. 2026-11-01T19:00:00Z)")
    try:
        in_range = EARLIEST_TS <= value.astimezone(UTC) < LATEST_TS
    except OverflowError:  # year 1 or 9999 moved by its offset
        in_range = False
    if not in_range:
        raise ValueError(f"{text!r} is before Discord existed (2015-05-13) or after 2099")
    return value


# --------------------------------------------------------------------------- the row model
def _error(error_type: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(error_type, message, context)


def _scalar(value: Any) -> str | None:
    """One cell as text: stripped, empty → None; a list or mapping where one value belongs is
    refused (YAML ``name: [a, b]``), and so is U+0000, which PostgreSQL cannot store."""
    if isinstance(value, list | dict):
        kind = "list" if isinstance(value, list) else "mapping"
        raise _error("not_scalar", "a single value is expected here, not a {kind}", kind=kind)
    if value is None:
        return None
    text = str(value).strip()
    if "\x00" in text:
        raise _error("nul", "contains a NUL character (\\u0000)")
    return text or None


def _required(value: Any) -> str:
    text = _scalar(value)
    if text is None:
        raise _error("required", "required, but empty")
    return text


def _timestamp(value: Any) -> datetime | None:
    text = _scalar(value)
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise _error("timestamp", "{why}", why=str(exc)) from None


def _discord_id(text: str) -> int:
    if not (text.isdecimal() and text.isascii()):
        raise _error("discord_id", "{value} is not a Discord id (digits only)", value=repr(text))
    number = int(text)
    if not 0 < number <= MAX_BIGINT:
        raise _error("discord_id", "{value} is out of range for a Discord id", value=repr(text))
    return number


def _optional_id(value: Any) -> int | None:
    text = _scalar(value)
    return None if text is None else _discord_id(text)


def _channel_ids(value: Any) -> list[int]:
    """Space-separated in CSV, a list (or a space-separated string) in YAML."""
    if isinstance(value, dict):
        raise _error("not_scalar", "a list of channel ids is expected here, not a mapping")
    if isinstance(value, list):
        if any(isinstance(v, list | dict) for v in value):
            raise _error("not_scalar", "each channel id must be a single value, not a list or mapping")
        parts = [str(v).strip() for v in value]
    else:
        parts = (_scalar(value) or "").split()
    return [_discord_id(p) for p in parts]


def _status(value: Any) -> str:
    text = _scalar(value)
    if text is None:
        return "scheduled"
    if text not in STATUSES:
        raise _error(
            "status", "{value} is not one of {allowed}", value=repr(text), allowed=", ".join(STATUSES)
        )
    return text


def _external_id(value: Any) -> str:
    text = _required(value)
    if text.startswith(RESERVED_PREFIX):
        raise _error(
            "reserved",
            "ids starting with {prefix} belong to Discord's own events",
            prefix=repr(RESERVED_PREFIX),
        )
    return text


Text = Annotated[str | None, BeforeValidator(_scalar)]
Timestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]


class EventRow(BaseModel):
    """One event as ``pwr events import`` writes it to ``pwr_raw.manual_events``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    external_event_id: Annotated[str, BeforeValidator(_external_id)]
    name: Annotated[str, BeforeValidator(_required)]
    event_type: Text = None
    description: Text = None
    scheduled_start_ts: Annotated[datetime, BeforeValidator(lambda v: _timestamp(_required(v)))]
    scheduled_end_ts: Timestamp = None
    actual_start_ts: Timestamp = None
    actual_end_ts: Timestamp = None
    host_discord_user_id: Annotated[int | None, BeforeValidator(_optional_id)] = None
    channel_ids: Annotated[list[int], BeforeValidator(_channel_ids)] = Field(default_factory=list)
    status: Annotated[str, BeforeValidator(_status)] = "scheduled"

    @field_validator("scheduled_end_ts", "actual_end_ts")
    @classmethod
    def _end_after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start_field = info.field_name.replace("_end_", "_start_")
        start = info.data.get(start_field)
        if end is not None and start is not None and end < start:
            raise _error(
                "end_before_start",
                "{end} is before {start_field} {start}",
                end=end.isoformat(),
                start_field=start_field,
                start=start.isoformat(),
            )
        return end


def _problems(prefix: str, exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "(row)"
        if error["type"] == "missing":
            why = "required, but missing"
        elif error["type"] == "extra_forbidden":
            why = f"unknown field (known: {', '.join(COLUMNS)})"
        else:
            why = error["msg"]
        problems.append(f"{prefix}, field {field}: {why}")
    return problems


# --------------------------------------------------------------------------- reading the file
def read_events_file(path: Path) -> list[EventRow]:
    """Parse and validate the whole file; raise :class:`EventsFileError` listing every problem."""
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise EventsFileError(path, [f"unknown file type {path.suffix!r}: use .csv, .yaml or .yml"])
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise EventsFileError(
                path,
                [f"the file is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,} for an events file"],
            )
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EventsFileError(path, [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except OSError as exc:
        raise EventsFileError(path, [f"cannot be read: {exc.strerror or exc}"]) from None
    if not text.strip():
        raise EventsFileError(path, ["the file is empty: no events to import"])
    if suffix == ".csv":
        raw_rows, label = _csv_rows(path, text), "line"
    else:
        raw_rows, label = _yaml_rows(path, text), "entry"

    problems: list[str] = []
    rows: list[EventRow] = []
    seen: dict[str, str] = {}
    for where, raw in raw_rows:
        ident = raw.get("external_event_id")
        ident = ident.strip() if isinstance(ident, str) else ""
        prefix = f"{label} {where}" + (f" ({ident})" if ident else "")
        if raw.pop(None, None):
            problems.append(f"{prefix}: more cells than the header has columns")
            continue
        try:
            row = EventRow.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_problems(prefix, exc))
            continue
        if row.external_event_id in seen:
            problems.append(f"{prefix}, field external_event_id: duplicate of {seen[row.external_event_id]}")
            continue
        seen[row.external_event_id] = f"{label} {where}"
        rows.append(row)
    if problems:
        raise EventsFileError(path, problems)
    if not rows:
        raise EventsFileError(path, ["the file holds no events"])
    return rows


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    """(line number, cells by column) per data row; the header is checked once, here."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
        problems = [f"line 1 (header), field {c}: column missing" for c in REQUIRED if c not in header]
        problems += [
            f"line 1 (header), field {c}: unknown column (known: {', '.join(COLUMNS)})"
            for c in header
            if c not in COLUMNS
        ]
        problems += [
            f"line 1 (header), field {c}: column named twice"
            for c in sorted(set(header))
            if header.count(c) > 1
        ]
        if problems:
            raise EventsFileError(path, problems)
        # DictReader keeps cells beyond the header under the key None (reported per row).
        return [(reader.line_num, record) for record in reader]
    except csv.Error as exc:
        raise EventsFileError(path, [f"line {reader.line_num}: not valid CSV: {exc}"]) from None


class _RefusedYaml(Exception):
    pass


class _PlainLoader(yaml.BaseLoader):
    """PyYAML's BaseLoader (every scalar a string), refusing anchors and aliases unexpanded."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _RefusedYaml(
                f"line {event.start_mark.line + 1}: YAML anchors and aliases (& and *) are not "
                "accepted; write each value out"
            )
        return super().compose_node(parent, index)


def _yaml_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    try:
        data = yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a BaseLoader: builds no objects
    except _RefusedYaml as exc:
        raise EventsFileError(path, [str(exc)]) from None
    except yaml.YAMLError as exc:
        raise EventsFileError(path, [f"not valid YAML: {' '.join(str(exc).split())}"]) from None
    if not isinstance(data, list):
        raise EventsFileError(path, ["the YAML file must be a list of mappings (one per event)"])
    rows, problems = [], []
    for number, entry in enumerate(data, start=1):
        if isinstance(entry, dict):
            rows.append((number, entry))
        else:
            problems.append(f"entry {number}: not a mapping of field: value")
    if problems:
        raise EventsFileError(path, problems)
    return rows
