"""``pwr ingest --dry-run``: what a run would write, read through the same path, writing nothing.

A user writing a mapping file for months of logs wants to see the first records and how many
lines each outcome gets *before* anything lands in the warehouse: no database connection, no
spool, only the files are read. Quarantine reasons are counted by their head (the text before
the first ": ", e.g. "discord_user_id is not a numeric Discord id"), so a million bad lines
give one line of output, with the first example's place in the file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pwr_platform.ingest.logs import LineCheck, iter_file
from pwr_platform.ingest.records import VoiceRecord


@dataclass
class DryRunReport:
    """Outcome counts of reading files without writing them."""

    first: list[VoiceRecord] = field(default_factory=list)
    mapped: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # reason head → first source_ref

    def lines(self, shown: int) -> list[str]:
        out = [f"first {min(shown, len(self.first))} record(s) it would write:"]
        for r in self.first[:shown]:
            out.append(
                f"  {r.event_ts.isoformat()} {r.event_type:5} guild {r.guild_id} user {r.user_id} "
                f"channel {r.channel_id}  {r.payload}"
            )
        out.append(
            f"would write {self.mapped:,} voice record(s) (rows already stored count as duplicates then)"
        )
        out.append(f"skipped {sum(self.skipped.values()):,} line(s) that are not voice moves")
        out += [f"  {n:,}  {reason}" for reason, n in self.skipped.most_common()]
        out.append(f"would quarantine {sum(self.quarantined.values()):,} line(s)")
        out += [
            f"  {n:,}  {reason} (first: {self.examples[reason]})"
            for reason, n in self.quarantined.most_common()
        ]
        out.append("dry run: nothing was written")
        return out


def dry_run(paths: Iterable[Path], fmt: str, check: LineCheck, keep: int = 10) -> DryRunReport:
    """Read every file with ``check``; keep the first ``keep`` records (the caller adds skip counts)."""
    report = DryRunReport()
    for path in paths:
        _, records, fh = iter_file(path, fmt, check)
        try:
            for record in records:
                if record.KIND == "voice":
                    report.mapped += 1
                    if len(report.first) < keep:
                        report.first.append(record)
                else:
                    head = record.reason.split(": ", 1)[0]
                    report.quarantined[head] += 1
                    report.examples.setdefault(head, record.source_ref or "")
        finally:
            fh.close()
    return report
