"""Streaming readers for historical voice logs: JSON lines and Loki ``query_range`` responses.

Both yield one record per input line: a validated :class:`VoiceRecord`, or a
:class:`RejectedRecord` carrying the reason (bad JSON, missing field, unknown ``event_type``,
non-numeric id, timestamp without a zone, impossible timestamp, not UTF-8). Memory stays constant
whatever the file size: JSON lines are read line by line, and a Loki document (which can hold
millions of lines in one JSON value) is walked with ijson's incremental parser, value by value.

``source_ref`` ("<absolute path>:<line>" or "<absolute path>#<n-th Loki value>") is stable, so
re-running a file quarantines nothing twice (``rejected_voice_events`` is unique on source,
source_ref and the text).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import ijson

from pwr_platform.ingest.records import Record, check_line, rejected

FORMATS = ("auto", "jsonl", "loki")
# A line's text → its record, its quarantine entry, or None for a line that is not a record
# (check_line for the native voice record; a mapping file's LineMapper.check otherwise).
LineCheck = Callable[[str, str, str | None], Record | None]
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".log", ".txt"}


class LogFormatError(ValueError):
    """The file as a whole cannot be read in the given format (e.g. a truncated Loki document)."""


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes; ``.gz`` archives are decompressed on the fly."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


def _base_suffix(path: Path) -> str:
    return Path(path.stem).suffix if path.suffix == ".gz" else path.suffix


def detect_format(path: Path) -> str:
    """``loki`` or ``jsonl``: by suffix (``.jsonl``, ``.ndjson``, ``.log``), else by the first line."""
    if _base_suffix(path).lower() in JSONL_SUFFIXES:
        return "jsonl"
    with open_binary(path) as fh:
        head = fh.read(1 << 20)
    first = head.split(b"\n", 1)[0].strip()
    try:
        obj = json.loads(first)
    except ValueError:
        # Not one object per line: a pretty-printed Loki response, or a JSON-lines file whose
        # first line is broken. Loki documents name their parts.
        return "loki" if head.lstrip().startswith(b"{") and b'"result"' in head else "jsonl"
    if isinstance(obj, dict) and ("data" in obj or "status" in obj) and "event_type" not in obj:
        return "loki"
    return "jsonl"


def _decode(raw: bytes, source: str, ref: str) -> str | Record:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return rejected(
            source, ref, raw.decode("utf-8", "backslashreplace"), f"not valid UTF-8: {exc.reason}"
        )


def iter_jsonl(fh: IO[bytes], path: Path, check: LineCheck = check_line) -> Iterator[Record]:
    """One voice record per line; blank lines are skipped (they are not records)."""
    prefix = f"{path}:"
    for lineno, raw in enumerate(fh, start=1):
        if not raw.strip():
            continue
        ref = prefix + str(lineno)
        text = _decode(raw, "jsonl", ref)
        record = text if not isinstance(text, str) else check(text, "jsonl", ref)
        if record is not None:
            yield record


def iter_loki(fh: IO[bytes], path: Path, check: LineCheck = check_line) -> Iterator[Record]:
    """Every ``data.result[].values[[ns_timestamp, line]]`` entry; several responses may follow each other."""
    prefix = f"{path}#"
    n = 0
    try:
        for value in ijson.items(fh, "data.result.item.values.item", multiple_values=True, use_float=True):
            n += 1
            ref = prefix + str(n)
            if isinstance(value, list) and len(value) >= 2 and isinstance(value[1], str):
                record = check(value[1], "loki", ref)
                if record is not None:
                    yield record
            else:
                yield rejected(
                    "loki", ref, json.dumps(value, default=str), "Loki value is not [timestamp, line]"
                )
    except ijson.JSONError as exc:
        raise LogFormatError(
            f"{path}: not a valid Loki query_range JSON document after {n} values: {exc}"
        ) from exc


def iter_file(
    path: Path, fmt: str = "auto", check: LineCheck = check_line
) -> tuple[str, Iterator[Record], IO[bytes]]:
    """(format used, record iterator, the open binary handle — for progress and closing)."""
    path = Path(path).resolve()
    if fmt == "auto":
        fmt = detect_format(path)
    fh = open_binary(path)
    records = iter_loki(fh, path, check) if fmt == "loki" else iter_jsonl(fh, path, check)
    return fmt, records, fh
