"""``pwr dota``: the community's Dota 2 league matches (OpenDota) and who plays under which account.

* ``pwr dota import FILE…`` — saved OpenDota responses (matches, hero list, league), no network.
* ``pwr dota refresh`` — fetch the new matches of the leagues in ``PWR_DOTA_LEAGUE_IDS``.
* ``pwr dota link ACCOUNT_ID DISCORD_ID`` / ``pwr dota links import CSV`` — Steam account ↔ member.

The commands land raw documents only; the Dagster assets of group ``dota`` (or ``pwr
materialize``) build heroes, leagues, matches and match_players from them. Every user error is
one line naming the file, row or field, and the exit status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import psycopg

from pwr_platform.cli.asset_events import record_writes
from pwr_platform.cli.ingest import checked_warehouse
from pwr_platform.ingest.dota.client import OpenDotaClient, OpenDotaError
from pwr_platform.ingest.dota.files import DotaFileError, import_file
from pwr_platform.ingest.dota.links import (
    LinksFileError,
    parse_account_id,
    parse_discord_user_id,
    read_links_file,
)
from pwr_platform.ingest.dota.refresh import refresh_leagues
from pwr_platform.ingest.dota.store import LandingResult, link_player
from pwr_platform.settings import get_settings, secret_value

RAW_TABLES = ["pwr_dota.raw_matches", "pwr_dota.raw_references"]


def _connect(url: str | None) -> psycopg.Connection:
    url = checked_warehouse(url)
    conn = psycopg.connect(url, application_name="pwr-dota")
    if conn.execute("SELECT to_regclass('pwr_dota.raw_matches')").fetchone()[0] is None:
        conn.close()
        raise click.ClickException("the warehouse has no pwr_dota schema yet: run `pwr db upgrade` first")
    return conn


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def _summary(result: LandingResult) -> str:
    return (
        f"{result.stored} new matches stored, {result.already_stored} already stored, "
        f"{len(result.quarantined)} documents quarantined, {result.references} hero/league documents"
    )


def _report_quarantine(result: LandingResult) -> None:
    for line in result.quarantined[:20]:
        click.echo(f"quarantined: {line}", err=True)
    if len(result.quarantined) > 20:
        click.echo(f"… and {len(result.quarantined) - 20} more (pwr_dota.quarantine)", err=True)


@click.group()
def dota() -> None:
    """Dota 2 league matches from OpenDota, and Steam account ↔ Discord member links."""


@dota.command("import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--database-url", envvar="PWR_DATABASE_URL", default=None, hidden=True)
def import_cmd(files: tuple[Path, ...], database_url: str | None) -> None:
    """Load saved OpenDota responses: /matches/{id} documents (one or an array), /heroes, /leagues/{id}.

    Documents that are no usable match are quarantined with the reason (pwr_dota.quarantine); a
    file that is not JSON is refused and nothing of any file is stored.
    """
    result = LandingResult()
    with _connect(database_url) as conn:
        try:
            with conn.transaction():
                for path in files:
                    import_file(conn, path, result)
        except DotaFileError as exc:
            _fail(f"{exc}; nothing imported")
    _report_quarantine(result)
    click.echo(f"Imported {len(files)} files: {_summary(result)}.")
    record_writes(RAW_TABLES, "pwr dota import", result.as_metadata())


@dota.command("refresh")
@click.option("--database-url", envvar="PWR_DATABASE_URL", default=None, hidden=True)
def refresh_cmd(database_url: str | None) -> None:
    """Fetch the new matches of the leagues in PWR_DOTA_LEAGUE_IDS from OpenDota (PWR_OPENDOTA_URL)."""
    settings = get_settings()
    if not settings.dota_league_ids:
        _fail("PWR_DOTA_LEAGUE_IDS is not set: name the league ids to fetch (comma separated)")
    client = OpenDotaClient(
        settings.opendota_url,
        cache_dir=settings.opendota_cache_dir,
        api_key=secret_value(settings.opendota_api_key),
        requests_per_minute=settings.opendota_requests_per_minute,
    )
    with _connect(database_url) as conn:
        try:
            result = refresh_leagues(conn, client, settings.dota_league_ids, log=click.echo)
        except OpenDotaError as exc:
            _fail(f"OpenDota: {exc} (what was fetched before is kept; run it again later)")
        finally:
            client.close()
    _report_quarantine(result)
    click.echo(
        f"Refreshed leagues {', '.join(map(str, settings.dota_league_ids))}: {_summary(result)} "
        f"({client.requests_made} requests)."
    )
    record_writes(RAW_TABLES, "pwr dota refresh", result.as_metadata())


@dota.command("link")
@click.argument("account_id")
@click.argument("discord_id")
@click.option("--database-url", envvar="PWR_DATABASE_URL", default=None, hidden=True)
def link_cmd(account_id: str, discord_id: str, database_url: str | None) -> None:
    """Link Steam ACCOUNT_ID (32-bit, as OpenDota shows it) to the Discord member DISCORD_ID."""
    try:
        account = parse_account_id(account_id)
        member = parse_discord_user_id(discord_id)
    except ValueError as exc:
        _fail(str(exc))
    with _connect(database_url) as conn:
        changed = link_player(conn, account, member, "pwr dota link")
    click.echo(
        f"Account {account} {'linked to' if changed else 'already linked to'} Discord member {member}."
    )
    record_writes(["pwr_dota.player_links"], "pwr dota link", {"changed": int(changed)})


@dota.group("links")
def links() -> None:
    """Steam account ↔ Discord member links in bulk."""


@links.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--database-url", envvar="PWR_DATABASE_URL", default=None, hidden=True)
def links_import_cmd(file: Path, database_url: str | None) -> None:
    """Import CSV FILE with header account_id,discord_user_id (a bad row rejects the whole file)."""
    try:
        rows = read_links_file(file)
    except LinksFileError as exc:
        _fail(str(exc))
    with _connect(database_url) as conn, conn.transaction():
        changed = sum(
            link_player(conn, account, member, f"file:{file.resolve()}") for account, member in rows
        )
    click.echo(f"Imported {len(rows)} links from {file} ({changed} new or changed).")
    record_writes(["pwr_dota.player_links"], f"pwr dota links import {file.name}", {"links": len(rows)})
