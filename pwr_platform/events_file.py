"""The events file of ``pwr events import`` (ARCHITECTURE.md, "Events file"): parse and validate.

CSV with a header row, or YAML (a list of mappings with the same keys). Every row is checked
before anything is written; all problems are reported together, each naming its row and field,
so a bad file is fixed in one pass and never half-imported.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

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
TIMESTAMPS = ("scheduled_start_ts", "scheduled_end_ts", "actual_start_ts", "actual_end_ts")
STATUSES = ("scheduled", "active", "completed", "cancelled")
RESERVED_PREFIX = "discord:"  # ids of events derived from Discord's own records


@dataclass
class EventRow:
    external_event_id: str
    name: str
    scheduled_start_ts: datetime
    event_type: str | None = None
    description: str | None = None
    scheduled_end_ts: datetime | None = None
    actual_start_ts: datetime | None = None
    actual_end_ts: datetime | None = None
    host_discord_user_id: int | None = None
    channel_ids: list[int] = field(default_factory=list)
    status: str = "scheduled"


class EventsFileError(ValueError):
    """The file cannot be imported; ``problems`` lists every "row …, field …: why"."""

    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        super().__init__(f"{path}: {len(problems)} problem(s), nothing imported:\n  " + "\n  ".join(problems))


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with a zone or offset (``Z`` or ``+01:00``); naive times are refused."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{text!r} has no time zone offset (write e.g. 2026-11-01T19:00:00Z)")
    return value


def _discord_id(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a Discord id (digits only)")
    return int(text)


def read_events_file(path: Path) -> list[EventRow]:
    """Parse and validate the whole file; raise :class:`EventsFileError` listing every problem."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".yaml", ".yml"):
        raw_rows, label = _yaml_rows(path, text), "entry"
    elif path.suffix.lower() == ".csv":
        raw_rows, label = _csv_rows(path, text), "line"
    else:
        raise EventsFileError(path, [f"unknown file type {path.suffix!r}: use .csv, .yaml or .yml"])

    problems: list[str] = []
    rows: list[EventRow] = []
    seen: dict[str, str] = {}
    for where, raw in raw_rows:
        ident = (raw.get("external_event_id") or "").strip()
        prefix = f"{label} {where}" + (f" ({ident})" if ident else "")
        row_problems: list[str] = []

        def bad(column: str, why: str, prefix=prefix, row_problems=row_problems) -> None:
            row_problems.append(f"{prefix}, field {column}: {why}")

        unknown = sorted(set(raw) - set(COLUMNS))
        for column in unknown:
            bad(column, f"unknown field (known: {', '.join(COLUMNS)})")
        values: dict = {}
        for column in COLUMNS:
            cell = raw.get(column)
            cell = cell.strip() if isinstance(cell, str) else cell
            if cell in (None, ""):
                if column in REQUIRED:
                    bad(column, "required, but empty")
                continue
            try:
                if column in TIMESTAMPS:
                    values[column] = parse_timestamp(cell)
                elif column == "host_discord_user_id":
                    values[column] = _discord_id(cell)
                elif column == "channel_ids":
                    parts = cell if isinstance(cell, list) else cell.split()
                    values[column] = [_discord_id(str(p).strip()) for p in parts]
                elif column == "status":
                    if cell not in STATUSES:
                        raise ValueError(f"{cell!r} is not one of {', '.join(STATUSES)}")
                    values[column] = cell
                else:
                    values[column] = cell
            except ValueError as exc:
                bad(column, str(exc))
        if ident.startswith(RESERVED_PREFIX):
            bad("external_event_id", f"ids starting with {RESERVED_PREFIX!r} belong to Discord's own events")
        elif ident and ident in seen:
            bad("external_event_id", f"duplicate of {seen[ident]}")
        elif ident:
            seen[ident] = f"{label} {where}"
        for start, end in (("scheduled_start_ts", "scheduled_end_ts"), ("actual_start_ts", "actual_end_ts")):
            if start in values and end in values and values[end] < values[start]:
                bad(end, f"{values[end].isoformat()} is before {start} {values[start].isoformat()}")
        if row_problems:
            problems.extend(row_problems)
        else:
            rows.append(EventRow(**values))
    if problems:
        raise EventsFileError(path, problems)
    if not rows:
        raise EventsFileError(path, ["the file holds no events"])
    return rows


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise EventsFileError(path, [f"line 1 (header), field {c}: column missing" for c in missing])
    rows = []
    for record in reader:
        if None in record:  # more cells than header columns
            rows.append((reader.line_num, {**{k: v for k, v in record.items() if k}, "(extra cells)": "x"}))
        else:
            rows.append((reader.line_num, record))
    return rows


def _yaml_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    try:
        # BaseLoader: every scalar stays a string, so timestamps are parsed (and checked for an
        # offset) by the same code as CSV cells.
        data = yaml.load(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        raise EventsFileError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(data, list):
        raise EventsFileError(path, ["the YAML file must be a list of mappings (one per event)"])
    rows = []
    for number, entry in enumerate(data, start=1):
        if not isinstance(entry, dict):
            raise EventsFileError(path, [f"entry {number}: not a mapping of field: value"])
        rows.append((number, entry))
    return rows
