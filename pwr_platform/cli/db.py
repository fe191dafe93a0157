"""``pwr db``: the warehouse PostgreSQL server (embedded or external) and its schema."""

from __future__ import annotations

import sys

import click

from pwr_platform.settings import get_settings


@click.group()
def db() -> None:
    """The warehouse PostgreSQL server and its schema."""


def _embedded_or_exit():
    from pwr_platform.warehouse.connection import embedded_server, uses_embedded

    if not uses_embedded():
        click.echo("PWR_DATABASE_URL is set: the warehouse is an external server, nothing to start or stop.")
        sys.exit(0)
    return embedded_server()


@db.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL server (initialising it on first use)."""
    from pwr_platform.warehouse.connection import DAGSTER_DB, WAREHOUSE_DB, ensure_database

    server = _embedded_or_exit()
    first = not server.is_initialized
    if first:
        click.echo(f"Initialising embedded PostgreSQL in {server.pgdata} …")
    port = server.start()
    for name in (WAREHOUSE_DB, DAGSTER_DB):
        ensure_database(server.url("postgres"), name)
    click.echo(f"PostgreSQL running on 127.0.0.1:{port} (data: {server.pgdata})")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (its data stays in PWR_HOME/pgdata)."""
    server = _embedded_or_exit()
    click.echo("PostgreSQL stopped." if server.stop() else "PostgreSQL was not running.")


@db.command("status")
def db_status() -> None:
    """Say whether the warehouse server answers; exit 1 when it does not."""
    import psycopg

    from pwr_platform.warehouse.connection import embedded_server, uses_embedded, warehouse_url

    if uses_embedded():
        server = embedded_server()
        port = server.running_port() if server.is_initialized else None
        if port is None:
            click.echo("embedded PostgreSQL: stopped")
            sys.exit(1)
        click.echo(f"embedded PostgreSQL: running on 127.0.0.1:{port}, data in {server.pgdata}")
    try:
        with psycopg.connect(warehouse_url(), connect_timeout=5) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        click.echo(f"warehouse reachable (PostgreSQL {version})")
    except psycopg.OperationalError as exc:
        click.echo(f"warehouse unreachable: {exc}".strip())
        sys.exit(1)


@db.command("url")
@click.option("--dagster", is_flag=True, help="Print Dagster's storage URL instead.")
def db_url(dagster: bool) -> None:
    """Print the warehouse URL (for psql "$(pwr db url)")."""
    from pwr_platform.warehouse.connection import dagster_storage_url, warehouse_url

    click.echo(dagster_storage_url() if dagster else warehouse_url())


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply schema migrations (idempotent), then set the restricted roles' passwords from
    PWR_BOT_DB_PASSWORD / PWR_SUPERSET_DB_PASSWORD when set. Starts the embedded server if needed."""
    from pwr_platform.warehouse import migrate
    from pwr_platform.warehouse.connection import warehouse_url
    from pwr_platform.warehouse.role_passwords import MissingRole, apply_role_passwords

    url = warehouse_url(start=True)
    before = migrate.current_revision(url)
    migrate.upgrade(url, revision)
    after = migrate.current_revision(url)
    if before == after:
        click.echo(f"Schema already at {after}.")
    else:
        click.echo(f"Schema migrated {before or '(empty)'} → {after}.")
    try:
        roles = apply_role_passwords(url, get_settings())
    except MissingRole as exc:  # a --revision older than the role's migration
        raise click.ClickException(str(exc)) from exc
    if roles:
        click.echo(f"Passwords of {', '.join(roles)} set from the environment.")


@db.command("current")
def db_current() -> None:
    """Print the schema revision of the warehouse and the newest one in the code."""
    from pwr_platform.warehouse import migrate
    from pwr_platform.warehouse.connection import warehouse_url

    click.echo(f"database: {migrate.current_revision(warehouse_url()) or '(empty)'}")
    click.echo(f"code:     {migrate.head_revision()}")
