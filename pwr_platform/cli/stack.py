"""``pwr env / up / down / status``: the local stack as one thing (PostgreSQL, Dagster, Superset)."""

from __future__ import annotations

import shlex
import sys

import click

from pwr_platform.cli import ingest as _ingest
from pwr_platform.cli.materialize import materialize_cmd
from pwr_platform.settings import get_settings


@click.command("env")
def env_cmd() -> None:
    """Print shell exports for Dagster CLI use: eval "$(pwr env)"."""
    from pwr_platform.runtime.dagster_instance import dagster_env

    for key, value in dagster_env(start=True).items():
        click.echo(f"export {key}={shlex.quote(value)}")


@click.command("up")
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="Seed the simulated demo community when the warehouse has no voice events yet.",
)
@click.pass_context
def up(ctx: click.Context, demo: bool) -> None:
    """Start PostgreSQL, migrate, start Dagster (code server, webserver, daemon) and Superset; print the URLs."""
    from pwr_platform.cli.superset import print_login, start_and_import
    from pwr_platform.runtime.services import PORT_SETTINGS, check_port_free, start_dagster
    from pwr_platform.warehouse import migrate
    from pwr_platform.warehouse.connection import warehouse_url

    settings = get_settings()
    for name in PORT_SETTINGS:  # a taken port is said now, not after minutes of materializing
        check_port_free(settings, name, click.echo)
    url = warehouse_url(start=True)
    migrate.upgrade(url)
    click.echo("Warehouse migrated.")
    if demo:
        click.echo("Demo community (first run only; --no-demo skips it) …")
        ctx.invoke(_ingest.simulate, if_empty=True)
    click.echo("Materializing the asset graph …")
    ctx.invoke(materialize_cmd)
    click.echo("Starting the Dagster code server, webserver and daemon (schedules and sensors on) …")
    dagster_url = start_dagster(settings)
    superset_secrets = start_and_import(settings)
    click.echo("")
    click.echo(f"  Dagster UI:  {dagster_url}")
    print_login(settings, superset_secrets)
    click.echo(f'  Warehouse:   psql "$(.pwr/tools/bin/uv run pwr db url)"   (logs in {settings.log_dir})')
    click.echo("  Stop with:   make down")


@click.command("down")
def down() -> None:
    """Stop everything `pwr up` started (data is kept); exit 1 when something could not be stopped."""
    from pwr_platform.runtime.services import dagster_stop_steps, stop_all
    from pwr_platform.runtime.superset_service import stop_superset
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


@click.command("status")
def status() -> None:
    """Print every service (PostgreSQL, Dagster webserver and daemon, Superset): pid, port, health,
    log. Exit 1 when any of them is not running and healthy."""
    from pwr_platform.runtime.stack_status import stack_status

    statuses = stack_status(get_settings(), echo=click.echo)
    for service in statuses:
        click.echo(service.line())
    down = [s.name for s in statuses if not s.healthy]
    if down:
        click.echo(f"not running or not healthy: {', '.join(down)}", err=True)
        sys.exit(1)
