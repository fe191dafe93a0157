"""The ``--mapping`` / ``--dry-run`` side of ``pwr ingest``: kept apart from the command itself so
the command stays one reading path whatever the log shape (the mapping only supplies the line check)."""

from __future__ import annotations

from pathlib import Path

import click

from pwr_platform.ingest.backfill import FileSummary
from pwr_platform.ingest.logs import LineCheck, LogFormatError
from pwr_platform.ingest.mapped_lines import LineMapper
from pwr_platform.ingest.mapping import MappingError, load_mapping
from pwr_platform.ingest.records import check_line

DRY_RUN_SHOWN = 10


def check_for(mapping_file: Path | None) -> tuple[LineCheck, LineMapper | None]:
    """The line check to read with: the native voice record, or the mapping file's (validated now)."""
    if mapping_file is None:
        return check_line, None
    try:
        mapper = LineMapper(load_mapping(mapping_file))
    except MappingError as exc:
        raise click.ClickException(f"{exc}\n(no log line was read)") from None
    return mapper.check, mapper


def print_summary(summary: FileSummary, mapper: LineMapper | None) -> None:
    """One file's summary line; with a mapping, its line format and the skipped lines by reason."""
    if mapper is None:
        click.echo(summary.line())
        for line in summary.rejection_lines():
            click.echo(line)
        return
    reader = "Loki answer, " if summary.format == "loki" else ""
    summary.format = f"{reader}{mapper.mapping.format} lines via the mapping"
    click.echo(summary.line())
    for line in summary.rejection_lines():
        click.echo(line)
    skipped = mapper.take_skipped()
    if skipped:
        reasons = "; ".join(f"{n:,} {reason}" for reason, n in skipped.most_common())
        click.echo(f"  skipped {sum(skipped.values()):,} line(s) that are not voice moves: {reasons}")


def print_dry_run(files: tuple[Path, ...], fmt: str, check: LineCheck, mapper: LineMapper | None) -> None:
    """Read ``files`` as a real run would and print what it would write; no database, no spool."""
    from pwr_platform.ingest.dry_run import dry_run

    if not files:
        raise click.ClickException("--dry-run needs the log FILES to read")
    try:
        report = dry_run(files, fmt, check, keep=DRY_RUN_SHOWN)
    except LogFormatError as exc:
        raise click.ClickException(f"{exc} (dry run: nothing was written)") from exc
    if mapper is not None:
        report.skipped = mapper.take_skipped()
    for line in report.lines(DRY_RUN_SHOWN):
        click.echo(line)
