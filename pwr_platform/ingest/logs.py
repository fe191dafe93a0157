"""Streaming readers for historical voice logs: JSON lines (ours or logcli's) and Loki answers.

Both yield one record per input line: a validated :class:`VoiceRecord`, or a
:class:`RejectedRecord` carrying the reason (bad JSON, missing field, unknown ``event_type``,
non-numeric id, timestamp without a zone, impossible or future timestamp, not UTF-8, over
1 MiB). Memory stays constant whatever the file size and whatever its longest line: JSON lines
are read line by line with a size limit, and a Loki document (which can hold millions of lines
in one JSON value, on one physical line) is walked with ijson's incremental parser value by
value, behind :class:`~pwr_platform.ingest.long_lines.LongStringGuard`.

A file that cannot be read as a whole (not gzip, truncated, unreadable, a Loki error answer or
a metric query) raises :class:`LogFormatError` with one message naming the file: quarantining
every sample of a metric answer would bury the one reason under thousands of rows.

``source_ref`` ("<absolute path>:<line>" or "<absolute path>#<n-th Loki value>") is stable, so
re-running a file quarantines nothing twice (``rejected_voice_events`` is unique on source,
source_ref and the text).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import ijson

from pwr_platform.ingest.long_lines import LongStringGuard, bounded_lines
from pwr_platform.ingest.records import (
    MAX_LINE_BYTES,
    Horizon,
    InvalidRecord,
    Record,
    check_line,
    decode_json,
    oversized,
    rejected,
)

FORMATS = ("auto", "jsonl", "loki")
# A line's text → its record, its quarantine entry, or None for a line that is not a record
# (check_line for the native voice record; a mapping file's LineMapper.check otherwise).
LineCheck = Callable[[str, str, str | None, Horizon | None], Record | None]
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".log", ".txt"}


class LogFormatError(ValueError):
    """The file as a whole cannot be read in the given format (e.g. a truncated Loki document)."""

    lines_read = 0  # set by the backfill: lines of the file handed to the writer before it


# What reading a file can raise that is the file's fault, not a bug: not gzip, a truncated
# archive, an I/O error, bytes a JSON parser cannot decode.
READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


def read_error(path: Path, exc: BaseException) -> LogFormatError:
    """One message naming the file and what is wrong with it, for any of :data:`READ_ERRORS`."""
    if isinstance(exc, gzip.BadGzipFile):
        why = f"not a gzip archive ({exc}), though its name ends in .gz"
    elif isinstance(exc, EOFError | zlib.error):
        why = f"a damaged or truncated gzip archive ({exc})"
    elif isinstance(exc, UnicodeDecodeError):
        why = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    elif isinstance(exc, OSError):
        why = f"cannot be read: {exc.strerror or exc}"
    else:
        why = str(exc)
    return LogFormatError(f"{path}: {why}")


def _reading(path: Path, records: Iterator[Record]) -> Iterator[Record]:
    try:
        yield from records
    except READ_ERRORS as exc:
        raise read_error(path, exc) from exc


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


def _logcli_line(text: str) -> str | None:
    """The log line of a ``logcli query --output jsonl`` line, or None for any other text.

    logcli writes ``{"labels": {…}, "line": "<log line>", "timestamp": "…"}`` per entry; the
    voice record is the ``line``. Only text that names both keys is decoded twice.
    """
    if '"line"' not in text or '"labels"' not in text:
        return None
    try:
        obj = decode_json(text)
    except InvalidRecord:
        return None
    if type(obj) is dict and isinstance(obj.get("line"), str) and "event_type" not in obj:
        return obj["line"]
    return None


def iter_jsonl(
    fh: IO[bytes], path: Path, horizon: Horizon | None = None, check: LineCheck = check_line
) -> Iterator[Record]:
    """One voice record per line (a voice record, or logcli's jsonl wrapping one); blank lines
    are skipped (they are not records); a line over the limit is quarantined unread."""
    horizon = horizon or Horizon()
    prefix = f"{path}:"
    for lineno, (raw, length) in enumerate(bounded_lines(fh), start=1):
        if length > MAX_LINE_BYTES:
            yield oversized("jsonl", prefix + str(lineno), raw, length)
            continue
        if not raw.strip():
            continue
        ref = prefix + str(lineno)
        text = _decode(raw, "jsonl", ref)
        if not isinstance(text, str):
            yield text
            continue
        inner = _logcli_line(text)
        if inner is not None and not inner.strip():
            continue  # an empty log line is no record, as a blank line is not
        record = check(text if inner is None else inner, "jsonl", ref, horizon)
        if record is not None:  # None: a line the mapping skips (counted there)
            yield record


def _answer_kind(path: Path) -> str | None:
    """Why a Loki document held no log lines, if its answer says so: an error, or a metric query.

    Read only after the values gave nothing (or a metric sample), event by event, with string
    lengths bounded like the values pass.
    """
    status, detail, answers = None, [], 0
    with open_binary(path) as fh:
        try:
            for prefix, event, value in ijson.parse(LongStringGuard(fh), multiple_values=True):
                if prefix == "" and event == "map_key" and value in ("status", "data"):
                    answers += 1
                if prefix == "status" and event == "string":
                    status = value
                elif prefix in ("errorType", "error") and event == "string":
                    detail.append(value)
                elif prefix == "data.resultType" and event == "string" and value != "streams":
                    return (
                        f"a Loki metric answer (resultType {value!r}), not log lines: export a log "
                        "query (a stream selector with line filters), not rate(), count_over_time() "
                        "or another metric query"
                    )
                elif prefix == "" and event == "end_map":
                    if status == "error":
                        return f"Loki answered with an error: {': '.join(detail) or '(no message)'}"
                    status, detail = None, []
        except ijson.JSONError:
            return None
    if not answers:
        return "not a Loki query_range answer (no status or data): for JSON lines use --format jsonl"
    return None


def iter_loki(
    fh: IO[bytes], path: Path, horizon: Horizon | None = None, check: LineCheck = check_line
) -> Iterator[Record]:
    """Every ``data.result[].values[[ns_timestamp, line]]`` entry; several responses may follow
    each other. An answer that is an error or a metric query is refused whole."""
    horizon = horizon or Horizon()
    prefix = f"{path}#"
    n = 0
    metric: str | None = None  # why the document is not log lines, once asked
    guard = LongStringGuard(fh)
    try:
        for value in ijson.items(guard, "data.result.item.values.item", multiple_values=True, use_float=True):
            n += 1
            ref = prefix + str(n)
            if not (isinstance(value, list) and len(value) >= 2 and isinstance(value[1], str)):
                yield rejected(
                    "loki", ref, json.dumps(value, default=str), "Loki value is not [timestamp, line]"
                )
                continue
            if not isinstance(value[0], str):  # a metric sample ([unix seconds, "number"])?
                if metric is None:
                    metric = _answer_kind(path) or ""
                if metric:
                    raise LogFormatError(f"{path}: {metric}")
                yield rejected(
                    "loki", ref, json.dumps(value), "Loki timestamp is not a string of nanoseconds"
                )
                continue
            cut = guard.cut_length(value[1])
            if cut is not None:
                yield oversized("loki", ref, value[1].partition("\x00")[0].encode(), cut)
            else:
                record = check(value[1], "loki", ref, horizon)
                if record is not None:
                    yield record
    except ijson.JSONError as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):  # the C parser's message, with an excerpt and a pointer
            detail = detail.decode("utf-8", "replace")
        detail = " ".join(str(detail).split())[:300]
        raise LogFormatError(
            f"{path}: not a valid Loki query_range JSON document after {n} values: {detail}"
        ) from exc
    if n == 0:
        why = _answer_kind(path)
        if why:
            raise LogFormatError(f"{path}: {why}")


def iter_file(
    path: Path, fmt: str = "auto", check: LineCheck = check_line
) -> tuple[str, Iterator[Record], IO[bytes]]:
    """(format used, record iterator, the open binary handle — for progress and closing)."""
    path = Path(path).resolve()
    try:
        with open_binary(path) as probe:
            if not probe.read(1):
                raise LogFormatError(f"{path}: the file is empty (no log lines to ingest)")
        if fmt == "auto":
            fmt = detect_format(path)
        fh = open_binary(path)
    except READ_ERRORS as exc:
        raise read_error(path, exc) from exc
    horizon = Horizon()
    reader = iter_loki if fmt == "loki" else iter_jsonl
    records = reader(fh, path, horizon, check)
    return fmt, _reading(path, records), fh
