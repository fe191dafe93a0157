"""The writer's durable fallback: an append-only, fsynced local spool (``PWR_HOME/spool``).

When PostgreSQL is unreachable the writer appends each batch here and acknowledges it only after
``fsync``; when the database returns it replays the segments in order and deletes a segment only
after its rows are committed. Every raw table has a natural key and the writer inserts with
``ON CONFLICT DO NOTHING``, so a crash between "committed" and "segment deleted" replays rows that
are already stored and duplicates nothing; a crash before the commit replays them for real.

Each writer process owns one directory ``<root>/<name>-<utc stamp>-<pid>/`` and holds an exclusive
``flock`` on its ``lock`` file while it runs. A directory whose lock is free belongs to a process
that died: the next writer to start adopts its segments (moves them in front of its own) so that
nothing spooled is ever stranded, whichever command (``pwr bot``, ``pwr ingest``, ...) runs next.

Segment format: one JSON array per line, ``[kind, *fields]`` (see ``records.*.to_spool``).

A spool is what is left when everything else failed, so it must never wedge ingestion itself:

- an append that fails (disk full, file-size limit, I/O error) truncates the segment back to the
  last good record before it raises, so the next append never lands behind a torn line;
- a line that cannot be read back anyway (a power loss mid-write, a damaged disk, an edit by
  hand) is replayed as a quarantine record (``pwr_raw.rejected_voice_events``, source ``spool``,
  the line's bytes and the reason) and replay goes on with the next line;
- files are created 0600 and directories 0700: the spool holds member names and ids.

The bot's event loop appends records the writer's queue has no room for while the writer thread
replays (see ``QueueWriter``), so the methods that touch the segment being written hold a lock.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from pwr_platform.ingest.records import RECORD_TYPES, Record, rejected

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".jsonl"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode(records: Iterable[Record]) -> bytes:
    return "".join(json.dumps([r.KIND, *r.to_spool()]) + "\n" for r in records).encode()


def decode_line(line: bytes) -> Record:
    kind, *fields = json.loads(line)
    return RECORD_TYPES[kind].from_spool(fields)


def read_line(line: bytes, ref: str) -> Record:
    """One spool line → its record, or a quarantine record holding its bytes and why it is unreadable."""
    if not line.endswith(b"\n"):
        reason = "unreadable spool line: incomplete write (no newline; never acknowledged)"
    else:
        try:
            return decode_line(line)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            reason = f"unreadable spool line: {type(exc).__name__}: {exc}"
    log.error("spool: %s is unreadable; quarantined (%s)", ref, reason)
    return rejected("spool", ref, line.rstrip(b"\n").decode("utf-8", "backslashreplace"), reason)


class SpoolWriteFailed(OSError):
    """An append could not be made durable; the segment was truncated back to its last good record."""


class Spool:
    """One writer's spool directory (plus any orphans it adopted). Not thread-safe: one writer uses it."""

    def __init__(self, root: Path, name: str, segment_bytes: int = 64 * 1024 * 1024) -> None:
        self.root = Path(root)
        self.name = name
        self.segment_bytes = segment_bytes
        self.dir: Path | None = None
        self._lock_fd: int | None = None
        self._current: Path | None = None
        self._current_fd: int | None = None
        self._current_size = 0
        self._lock = threading.RLock()
        self._next_seq = 1
        self.pending_records = 0
        self.pending_bytes = 0

    # -- lifecycle -----------------------------------------------------------------------------
    def open(self) -> Spool:
        """Create and lock this process's directory, then adopt orphaned ones."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        final = self.root / f"{self.name}-{stamp}-{os.getpid()}"
        # Lock before the directory becomes visible under its real name, so no other process
        # can mistake it for an orphan in between.
        staging = self.root / f".new-{final.name}"
        staging.mkdir(mode=0o700)
        self._lock_fd = os.open(staging / "lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        staging.rename(final)
        _fsync_dir(self.root)
        self.dir = final
        self._adopt_orphans()
        self._recount()
        return self

    def close(self) -> None:
        """Release the lock; remove the directory when nothing is left in it."""
        self.seal()
        if self.dir is None:
            return
        if not self.segments():
            (self.dir / "lock").unlink(missing_ok=True)
            self.dir.rmdir()
            _fsync_dir(self.root)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.dir = None

    def __enter__(self) -> Spool:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _adopt_orphans(self) -> None:
        assert self.dir is not None
        for other in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if other == self.dir:
                continue
            fd = os.open(other / "lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer owns it
                segments = sorted(other.glob(f"*{SEGMENT_SUFFIX}"))
                for seg in segments:
                    seg.rename(self._segment_path(self._next_seq))
                    self._next_seq += 1
                if segments:
                    log.warning("spool: adopted %d segment(s) left by %s", len(segments), other.name)
                    _fsync_dir(self.dir)
                (other / "lock").unlink(missing_ok=True)
                other.rmdir()
            finally:
                os.close(fd)
        _fsync_dir(self.root)

    def _recount(self) -> None:
        self.pending_records = 0
        self.pending_bytes = 0
        for seg in self.segments():
            self.pending_bytes += seg.stat().st_size
            with open(seg, "rb") as fh:
                self.pending_records += sum(1 for _ in fh)  # a torn line too: replay quarantines it

    # -- writing ---------------------------------------------------------------------------------
    def _segment_path(self, seq: int) -> Path:
        assert self.dir is not None
        return self.dir / f"{seq:012d}{SEGMENT_SUFFIX}"

    def append(self, records: list[Record]) -> None:
        """Append records durably: returns only after the bytes are fsynced.

        On failure the segment is cut back to where this append began and
        :class:`SpoolWriteFailed` is raised: the caller still holds the records.
        """
        if not records:
            return
        data = encode(records)
        with self._lock:
            if self.dir is None:
                raise RuntimeError("spool is not open")
            if self._current_fd is None or self._current_size >= self.segment_bytes:
                self.seal()
                path = self._segment_path(self._next_seq)
                self._next_seq += 1
                self._current_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                self._current = path
                self._current_size = os.fstat(self._current_fd).st_size
                _fsync_dir(self.dir)
            fd, start = self._current_fd, self._current_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError as exc:
                self._truncate_failed_append(fd, start, exc)
                raise SpoolWriteFailed(
                    exc.errno, f"spool append to {self._current} failed ({exc.strerror or exc})"
                ) from exc
            self._current_size = start + len(data)
            self.pending_records += len(records)
            self.pending_bytes += len(data)

    def _truncate_failed_append(self, fd: int, start: int, exc: OSError) -> None:
        try:
            os.ftruncate(fd, start)  # shrinking needs no free space
            os.fsync(fd)
        except OSError as again:
            # Cannot cut it back: seal the segment so nothing is appended behind the torn line,
            # which replay then quarantines.
            log.error("spool: could not truncate %s after a failed append (%s)", self._current, again)
            self.seal()
            return
        log.error("spool: append to %s failed (%s); cut back to its last good record", self._current, exc)

    def seal(self) -> None:
        """Close the segment being appended to; the next append starts a new one."""
        with self._lock:
            if self._current_fd is not None:
                os.close(self._current_fd)
            self._current_fd = None
            self._current = None
            self._current_size = 0

    # -- replay ------------------------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        return self.pending_records > 0

    def segments(self) -> list[Path]:
        if self.dir is None:
            return []
        return sorted(self.dir.glob(f"*{SEGMENT_SUFFIX}"))

    def sealed_segments(self) -> list[Path]:
        """Segments nobody is appending to: safe to replay and remove."""
        with self._lock:
            return [seg for seg in self.segments() if seg != self._current]

    def read_segment(self, path: Path) -> Iterator[Record]:
        """The segment's records in order; an unreadable line comes back as its quarantine record."""
        with open(path, "rb") as fh:
            for lineno, line in enumerate(fh, start=1):
                yield read_line(line, f"{path.parent.name}/{path.name}:{lineno}")

    def remove_segment(self, path: Path, records: int) -> None:
        """Forget a segment whose records are all committed to PostgreSQL."""
        with self._lock:
            if path == self._current:
                self.seal()
            size = path.stat().st_size
            path.unlink()
            assert self.dir is not None
            _fsync_dir(self.dir)
            self.pending_records = max(0, self.pending_records - records)
            self.pending_bytes = max(0, self.pending_bytes - size)
