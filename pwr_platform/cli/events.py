"""``pwr events``: community events run without Discord's scheduled-event feature.

``pwr events import FILE`` upserts the file's events (CSV or YAML, ARCHITECTURE.md "Events
file") by external_event_id; ``pwr events complete ID [--at TS]`` stamps an event's actual end by
hand. Each command writes the raw input and recomputes ``pwr_core.events`` in one transaction, so
the change is visible at once (the attendance sensor then picks up completed events) or, on any
error, not at all.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import psycopg

from pwr_platform.cli.asset_events import record_writes
from pwr_platform.cli.ingest import checked_warehouse
from pwr_platform.ingest.events_file import EventsFileError, parse_timestamp, read_events_file
from pwr_platform.ingest.records import MAX_BIGINT
from pwr_platform.settings import get_settings
from pwr_platform.transforms.events import refresh_events

UPSERT_MANUAL = """
INSERT INTO pwr_raw.manual_events AS m (external_event_id, name, event_type, description, scheduled_start_ts,
    scheduled_end_ts, actual_start_ts, actual_end_ts, host_discord_user_id, channel_ids, status,
    discord_guild_id, source)
VALUES (%(external_event_id)s, %(name)s, %(event_type)s, %(description)s, %(scheduled_start_ts)s,
    %(scheduled_end_ts)s, %(actual_start_ts)s, %(actual_end_ts)s, %(host_discord_user_id)s, %(channel_ids)s,
    %(status)s, %(discord_guild_id)s, %(source)s)
ON CONFLICT (external_event_id) DO UPDATE
SET name = excluded.name, event_type = excluded.event_type, description = excluded.description,
    scheduled_start_ts = excluded.scheduled_start_ts, scheduled_end_ts = excluded.scheduled_end_ts,
    actual_start_ts = excluded.actual_start_ts, actual_end_ts = excluded.actual_end_ts,
    host_discord_user_id = excluded.host_discord_user_id, channel_ids = excluded.channel_ids,
    status = excluded.status, discord_guild_id = excluded.discord_guild_id, source = excluded.source,
    imported_at = now(), ingest_xid = pg_current_xact_id()
RETURNING (xmax = 0) AS inserted
"""


def _connect(url: str | None) -> psycopg.Connection:
    return psycopg.connect(checked_warehouse(url), application_name="pwr-events")


def _numeric_id(text: str) -> int | None:
    """``text`` as a pwr_core.events event_id when it can be one (ASCII digits within BIGINT)."""
    if text.isascii() and text.isdecimal() and int(text) <= MAX_BIGINT:
        return int(text)
    return None


@click.group()
def events() -> None:
    """Community events run without Discord's scheduled-event feature."""


@events.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--database-url", envvar="PWR_DATABASE_URL", default=None, hidden=True)
def import_events(file: Path, database_url: str | None) -> None:
    """Import FILE (.csv or .yaml): new events are added, known external_event_ids updated.

    Columns: external_event_id, name, event_type, description, scheduled_start_ts,
    scheduled_end_ts, actual_start_ts, actual_end_ts, host_discord_user_id, channel_ids (space
    separated), status (scheduled | active | completed | cancelled). Timestamps are ISO 8601 with
    an offset. A file with any bad row is rejected whole, listing every problem.
    """
    try:
        rows = read_events_file(file)
    except EventsFileError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    guild_id = get_settings().guild_id
    inserted = updated = 0
    with _connect(database_url) as conn, conn.transaction():
        for row in rows:
            params = dict(row.model_dump(), discord_guild_id=guild_id, source=str(file.resolve()))
            if conn.execute(UPSERT_MANUAL, params).fetchone()[0]:
                inserted += 1
            else:
                updated += 1
        result = refresh_events(conn)
    click.echo(
        f"Imported {len(rows)} events from {file} ({inserted} new, {updated} updated); "
        f"pwr_core.events now holds {result.events_total} events ({result.completed_events} completed)."
    )
    record_writes(
        ["pwr_raw.manual_events", "pwr_core.events"],
        f"pwr events import {file.name}",
        {
            "events_in_file": len(rows),
            "new": inserted,
            "updated": updated,
            "events_total": result.events_total,
        },
    )


@events.command("complete")
@click.argument("event_id")
@click.option("--at", "at_text", default=None, help="Actual end, ISO 8601 with offset (default: now).")
@click.option("--database-url", envvar="PWR_DATABASE_URL", default=None, hidden=True)
def complete_event(event_id: str, at_text: str | None, database_url: str | None) -> None:
    """Stamp EVENT_ID's actual end by hand and mark it completed.

    EVENT_ID is the external_event_id (e.g. 'discord:123…' or an imported id) or the numeric
    event_id of pwr_core.events.
    """
    try:
        at = parse_timestamp(at_text) if at_text else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from exc
    with _connect(database_url) as conn, conn.transaction():
        row = conn.execute(
            """
            SELECT external_event_id, status, coalesce(actual_start_ts, scheduled_start_ts)
            FROM pwr_core.events
            WHERE external_event_id = %s OR event_id = %s
            """,
            (event_id, _numeric_id(event_id)),
        ).fetchone()
        if row is None:
            click.echo(
                f"No event {event_id!r} in pwr_core.events (import it or wait for the collector).",
                err=True,
            )
            sys.exit(1)
        external_id, status, start = row
        if status == "cancelled":
            click.echo(f"Event {external_id} was cancelled; it cannot be completed.", err=True)
            sys.exit(1)
        if at < start:
            click.echo(f"--at {at.isoformat()} is before the event's start {start.isoformat()}.", err=True)
            sys.exit(1)
        conn.execute(
            """
            INSERT INTO pwr_raw.event_completions (external_event_id, actual_end_ts) VALUES (%s, %s)
            ON CONFLICT (external_event_id) DO UPDATE
            SET actual_end_ts = excluded.actual_end_ts, recorded_at = now(), ingest_xid = pg_current_xact_id()
            """,
            (external_id, at),
        )
        refresh_events(conn)
    click.echo(f"Event {external_id} completed at {at.isoformat()}.")
    record_writes(
        ["pwr_raw.event_completions", "pwr_core.events"],
        f"pwr events complete {external_id}",
        {"external_event_id": external_id, "actual_end_ts": at.isoformat()},
    )
