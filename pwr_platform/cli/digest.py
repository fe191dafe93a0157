"""``pwr digest``: the weekly digest of one ISO week, printed (``--dry-run``) or posted.

The same text and the same once-per-week message as the ``weekly_digest`` asset
(``transforms/digest.py``), so an operator can read a week's digest before any webhook exists, or
post a missed week by hand without ever posting it twice.
"""

from __future__ import annotations

import sys
from datetime import date, datetime

import click
import psycopg

from pwr_platform.cli.dates import in_span
from pwr_platform.cli.ingest import checked_warehouse
from pwr_platform.settings import PwrSettings, get_settings, secret_value
from pwr_platform.transforms.digest import DigestError, last_finished_week, publish, week_start, weekly_digest


@click.command("digest")
@click.option(
    "--week",
    "week_text",
    default=None,
    metavar="DATE",
    help="Any day of the ISO week (YYYY-MM-DD). Default: the last finished week.",
)
@click.option("--dry-run", is_flag=True, help="Print the digest; post nothing.")
@click.option("--database-url", envvar="PWR_DATABASE_URL", default=None, hidden=True)
def digest(week_text: str | None, dry_run: bool, database_url: str | None) -> None:
    """Print (--dry-run) or post the weekly digest to PWR_DIGEST_WEBHOOK_URL (once per week:
    a second run edits the message it posted)."""
    settings = get_settings()
    if week_text is None:
        week = last_finished_week(datetime.now(settings.tz).date())
    else:
        try:
            day = date.fromisoformat(week_text)
        except ValueError:
            raise click.BadParameter(
                f"{week_text!r} is not a date (YYYY-MM-DD)", param_hint="--week"
            ) from None
        week = week_start(in_span(day, "--week"))
    url = secret_value(
        PwrSettings().digest_webhook_url
    )  # the secret is read at run time, like the asset does
    if not dry_run and not url:
        click.echo("PWR_DIGEST_WEBHOOK_URL is not set; use --dry-run to print the digest.", err=True)
        sys.exit(1)
    with psycopg.connect(checked_warehouse(database_url), application_name="pwr-digest") as conn:
        text = weekly_digest(conn, week, settings.tz).text(settings.tz)
        if dry_run:
            click.echo(text)
            return
        try:
            published = publish(conn, url, settings.guild_id or 0, week, text)
        except DigestError as exc:
            click.echo(f"Weekly digest of {week}: {exc}", err=True)
            sys.exit(1)
    click.echo(f"Weekly digest of {week}: {published.action} (message {published.message_id}).")
