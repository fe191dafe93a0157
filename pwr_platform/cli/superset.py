"""``pwr superset …``: run Superset, import the dashboards from YAML, export UI edits back to YAML."""

from __future__ import annotations

import sys

import click

from pwr_platform.settings import get_settings


@click.group("superset")
def superset_group() -> None:
    """Superset: start / stop, dashboards as code (import / export)."""


def _client(settings):
    from pwr_platform.bi.superset_api import SupersetClient
    from pwr_platform.runtime.superset_service import superset_secrets, superset_url

    secrets = superset_secrets(settings)
    return SupersetClient(superset_url(settings), settings.superset_admin_user, secrets.admin_password.value)


def print_login(settings, secrets) -> None:
    """The URL and login; the password itself only on the run that generated it."""
    from pwr_platform.runtime.superset_service import superset_url

    click.echo(f"  Superset:    {superset_url(settings)}   login: {settings.superset_admin_user}")
    pw = secrets.admin_password
    if pw.generated:
        click.echo(f"               password (generated, shown once; kept in {pw.source}): {pw.value}")
    elif pw.source == "environment":
        click.echo("               password: PWR_SUPERSET_ADMIN_PASSWORD")
    else:
        click.echo(f"               password: in {pw.source}")


def start_and_import(settings, echo=click.echo):
    """What `pwr up` and `pwr superset start` do: role password, set-up, gunicorn, bundle import."""
    from pwr_platform.bi import bundle
    from pwr_platform.runtime.superset_service import ASSETS_DIR, start_superset
    from pwr_platform.warehouse.connection import warehouse_url

    url = warehouse_url(settings, start=True)
    secrets = start_superset(settings, url, echo=echo)
    counts = bundle.import_bundle(_client(settings), ASSETS_DIR, url, secrets.db_password.value)
    echo(
        "Imported dashboards as code: "
        + ", ".join(f"{n} {kind}" for kind, n in counts.items())
        + f" (from {ASSETS_DIR})"
    )
    return secrets


@superset_group.command("start")
def start_cmd() -> None:
    """Start Superset on 127.0.0.1:PWR_SUPERSET_PORT and import superset/assets (first run sets up)."""
    from pwr_platform.runtime.superset_service import SupersetSetupError

    settings = get_settings()
    try:
        secrets = start_and_import(settings)
    except SupersetSetupError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    print_login(settings, secrets)


@superset_group.command("stop")
def stop_cmd() -> None:
    """Stop Superset."""
    from pwr_platform.runtime.superset_service import stop_superset

    click.echo("stopped superset" if stop_superset(get_settings()) else "Superset was not running.")


@superset_group.command("import")
def import_cmd() -> None:
    """Import superset/assets into the running Superset (overwrites every object in the bundle)."""
    from pwr_platform.bi import bundle
    from pwr_platform.runtime.superset_service import ASSETS_DIR, superset_secrets
    from pwr_platform.warehouse.connection import warehouse_url

    settings = get_settings()
    counts = bundle.import_bundle(
        _client(settings), ASSETS_DIR, warehouse_url(settings), superset_secrets(settings).db_password.value
    )
    click.echo("Imported " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


@superset_group.command("export")
def export_cmd() -> None:
    """Write every dashboard, chart, dataset and database of the running Superset into superset/assets."""
    from pwr_platform.bi import bundle
    from pwr_platform.runtime.superset_service import ASSETS_DIR

    result = bundle.export_bundle(_client(get_settings()), ASSETS_DIR)
    click.echo(
        f"Wrote {result['written']} YAML files, removed {result['removed']} into {ASSETS_DIR} "
        "(review with `git diff superset/assets`)."
    )


@superset_group.command("login")
def login_cmd() -> None:
    """Print Superset's URL and admin login."""
    from pwr_platform.runtime.superset_service import superset_secrets

    settings = get_settings()
    print_login(settings, superset_secrets(settings))
