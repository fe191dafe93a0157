"""The ``pwr`` command: one entry point for operators (database, Dagster services, later ingestion)."""

from __future__ import annotations

import shlex
import sys

import click

from pwr_platform.settings import get_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """PwR Platform: Discord voice activity → PostgreSQL warehouse → Dagster → Superset."""


# --------------------------------------------------------------------------- pwr db
@main.group()
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


# --------------------------------------------------------------------------- services
@main.command("env")
def env_cmd() -> None:
    """Print shell exports for Dagster CLI use: eval "$(pwr env)"."""
    from pwr_platform.warehouse.dagster_instance import dagster_env

    for key, value in dagster_env(start=True).items():
        click.echo(f"export {key}={shlex.quote(value)}")


@main.command("up")
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="Seed the simulated demo community when the warehouse has no voice events yet.",
)
@click.pass_context
def up(ctx: click.Context, demo: bool) -> None:
    """Start PostgreSQL, migrate, start Dagster webserver + daemon and Superset; print the URLs."""
    from pwr_platform.commands.superset import print_login, start_and_import
    from pwr_platform.services import start_dagster
    from pwr_platform.warehouse import migrate
    from pwr_platform.warehouse.connection import warehouse_url

    settings = get_settings()
    url = warehouse_url(start=True)
    migrate.upgrade(url)
    click.echo("Warehouse migrated.")
    if demo:
        click.echo("Demo community (first run only; --no-demo skips it) …")
        ctx.invoke(_ingest.simulate, if_empty=True)
    click.echo("Materializing the asset graph …")
    ctx.invoke(materialize_cmd)
    click.echo("Starting Dagster webserver and daemon (schedules and sensors on) …")
    dagster_url = start_dagster(settings)
    superset_secrets = start_and_import(settings)
    click.echo("")
    click.echo(f"  Dagster UI:  {dagster_url}")
    print_login(settings, superset_secrets)
    click.echo(f'  Warehouse:   psql "$(.pwr/tools/bin/uv run pwr db url)"   (logs in {settings.log_dir})')
    click.echo("  Stop with:   make down")


@main.command("down")
def down() -> None:
    """Stop everything `pwr up` started (data is kept); exit 1 when something could not be stopped."""
    from pwr_platform.bi.superset_service import stop_superset
    from pwr_platform.services import dagster_stop_steps, stop_all
    from pwr_platform.warehouse.connection import embedded_server, uses_embedded

    settings = get_settings()

    def stop_postgres() -> bool:
        return uses_embedded(settings) and embedded_server(settings).stop()

    report = stop_all(
        [
            ("superset", lambda: stop_superset(settings, echo=click.echo)),
            *dagster_stop_steps(settings, echo=click.echo),
            ("PostgreSQL", stop_postgres),
        ]
    )
    for name in report.stopped:
        click.echo(f"stopped {name}")
    if report.errors:
        click.echo(f"{len(report.errors)} service(s) could not be stopped:", err=True)
        for error in report.errors:
            click.echo(f"  {error}", err=True)
        sys.exit(1)


@main.command("status")
def status() -> None:
    """Print every service (PostgreSQL, Dagster webserver and daemon, Superset): pid, port, health,
    log. Exit 1 when any of them is not running and healthy."""
    from pwr_platform.stack_status import stack_status

    statuses = stack_status(get_settings(), echo=click.echo)
    for service in statuses:
        click.echo(service.line())
    down = [s.name for s in statuses if not s.healthy]
    if down:
        click.echo(f"not running or not healthy: {', '.join(down)}", err=True)
        sys.exit(1)


# --------------------------------------------------------------------------- area commands
from pwr_platform.commands import ingest as _ingest  # noqa: E402
from pwr_platform.commands.events import events  # noqa: E402
from pwr_platform.commands.materialize import materialize_cmd  # noqa: E402
from pwr_platform.commands.superset import superset_group  # noqa: E402

main.add_command(_ingest.ingest)
main.add_command(_ingest.simulate)
main.add_command(_ingest.bot)
main.add_command(events)
main.add_command(materialize_cmd)
main.add_command(superset_group)

if __name__ == "__main__":
    main()
