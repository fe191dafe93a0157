"""``pwr ingest``: stream log files through validation into the writer, with progress and a summary."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pwr_platform.ingest.logs import LineCheck, LogFormatError, iter_file
from pwr_platform.ingest.records import check_line
from pwr_platform.ingest.writer import BackgroundWriter


@dataclass
class FileSummary:
    path: Path
    format: str
    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    newly_quarantined: int = 0
    spooled: int = 0
    seconds: float = 0.0
    # why lines were rejected (the reason's head) and the first line of each: the summary names
    # them, so a user sees what is wrong in the file without querying the quarantine table
    reasons: Counter[str] = field(default_factory=Counter)
    first_line: dict[str, tuple[str, str]] = field(default_factory=dict)  # head → (file:line, reason)

    def rejection_lines(self, shown: int = 5) -> list[str]:
        """The commonest reasons lines were rejected, each with its first line (file:line)."""
        if not self.reasons:
            return []
        out = ["  rejected lines (kept in pwr_raw.rejected_voice_events), by reason; the first of each:"]
        for head, n in self.reasons.most_common(shown):
            where, reason = self.first_line[head]
            out.append(f"    {n:,}  {where}: {reason[:300]}")
        if len(self.reasons) > shown:
            out.append(f"    … and {len(self.reasons) - shown} more reason(s)")
        return out

    def line(self) -> str:
        text = (
            f"{self.path} ({self.format}): read {self.read:,}, inserted {self.inserted:,}, "
            f"duplicates {self.duplicates:,}, rejected {self.rejected:,} "
            f"({self.newly_quarantined:,} new in quarantine) in {self.seconds:.1f}s"
        )
        if self.spooled:
            text += f"; {self.spooled:,} records spooled while PostgreSQL was unreachable"
        return text


Progress = Callable[[str], None]
# (bytes of the file consumed, its size, lines read): what a progress bar needs to estimate the rest
Position = Callable[[int, int, int], None]


def _position(fh) -> int:
    raw = getattr(fh, "fileobj", None) or fh  # gzip: compressed bytes consumed
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0


def ingest_file(
    path: Path,
    writer: BackgroundWriter,
    *,
    fmt: str = "auto",
    progress: Progress | None = None,
    progress_every: float = 2.0,
    check: LineCheck = check_line,
    position: Position | None = None,
) -> FileSummary:
    """Read one file into ``writer``; counts are exact (the writer is synced at the end).

    ``progress`` gets a line every ``progress_every`` seconds; ``position`` (for a progress bar)
    gets the bytes consumed every 10,000 lines and once at the end.
    """
    started = time.perf_counter()
    stats = writer.stats
    before = (stats.inserted["voice"], stats.duplicates["voice"], stats.inserted["rejected"], stats.spooled)
    used, records, fh = iter_file(path, fmt, check)
    summary = FileSummary(path=Path(path), format=used)
    size = os.path.getsize(path) or 1
    next_report = started + progress_every
    read = rejected = 0
    try:
        for record in records:
            read += 1
            if record.KIND == "rejected":
                rejected += 1
                reason = record.reason.split(": ", 1)[0]
                summary.reasons[reason] += 1
                summary.first_line.setdefault(reason, (record.source_ref or str(path), record.reason))
            writer.add(record)
            if position is not None and not read % 10_000:
                position(_position(fh), size, read)
            if progress is not None and not read % 10_000 and time.perf_counter() >= next_report:
                elapsed = time.perf_counter() - started
                pct = min(100.0, 100.0 * _position(fh) / size)
                progress(f"  {Path(path).name}: {pct:5.1f}%  {read:,} lines  {read / elapsed:,.0f} lines/s")
                next_report = time.perf_counter() + progress_every
        writer.sync()
        if position is not None:
            position(size, size, read)
    except LogFormatError as exc:
        exc.lines_read = read  # handed to the writer before the file failed: they are stored
        raise
    finally:
        fh.close()
    summary.read, summary.rejected = read, rejected
    summary.inserted = stats.inserted["voice"] - before[0]
    summary.duplicates = stats.duplicates["voice"] - before[1]
    summary.newly_quarantined = stats.inserted["rejected"] - before[2]
    summary.spooled = stats.spooled - before[3]
    summary.seconds = time.perf_counter() - started
    return summary
