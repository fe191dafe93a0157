"""The ``pwr`` command: one entry point for operators. Each command group lives in its own module
of this package and is registered here with one line."""

from __future__ import annotations

import sys

import click

from pwr_platform.cli import ingest, stack
from pwr_platform.cli.db import db
from pwr_platform.cli.digest import digest
from pwr_platform.cli.dota import dota
from pwr_platform.cli.events import events
from pwr_platform.cli.logs import logs
from pwr_platform.cli.materialize import materialize_cmd
from pwr_platform.cli.superset import superset_group
from pwr_platform.warehouse.server_errors import shortage


def settings_problem(exc) -> str:
    """A pydantic ValidationError of the settings as one line per variable: the operator set
    ``PWR_DB_PORT=abc``, so the message names PWR_DB_PORT, not the model's field or a traceback."""
    from pwr_platform.settings import PwrSettings

    problems = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        variable = f"PWR_{field.upper()}"
        message = error["msg"].removeprefix("Value error, ")
        info = PwrSettings.model_fields.get(field)
        if info is not None and "SecretStr" not in str(info.annotation) and variable not in message:
            message += f" (got {error['input']!r})"  # a secret's value is never echoed
        problems.append(message if message.startswith(variable) else f"{variable}: {message}")
    return "bad setting: " + "; ".join(problems) + " (fix the environment variable and run again)"


def _loaded(module: str, name: str) -> type | None:
    """The exception class ``module.name`` if that module is loaded, else None: an exception of
    a module never imported cannot have been raised, so ``pwr`` need not import it (Alembic,
    the Superset client) to recognise it, and every command starts that much faster."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name, None) if loaded is not None else None


def one_line(exc: Exception) -> str | None:
    """What to tell the operator for an operational failure or a bad setting, or None for an
    exception that is not one (a bug keeps its traceback)."""

    def caught(module: str, *names: str) -> bool:
        return any(isinstance(exc, cls) for cls in (_loaded(module, n) for n in names) if cls is not None)

    if (
        caught("pwr_platform.runtime.embedded_postgres", "EmbeddedPostgresError")
        or caught("pwr_platform.runtime.services", "ServiceStopError", "ServiceStartError")
        or caught("pwr_platform.runtime.superset_service", "SupersetSetupError")
    ):
        return str(exc).strip()
    if caught("pwr_platform.bi.superset_api", "SupersetApiError"):
        message = str(exc).strip()
        return message if message.startswith("Superset") else f"Superset: {message}"
    if caught("psycopg", "OperationalError") or caught("sqlalchemy.exc", "OperationalError"):
        reason = str(getattr(exc, "orig", None) or exc).strip()  # SQLAlchemy wraps the driver's error
        if short := shortage(exc):  # the server answered: it is up, but short of disk or memory
            return f"{short}. PostgreSQL said: {reason}"
        return f"cannot reach PostgreSQL: {reason}"
    if caught("pydantic", "ValidationError") and getattr(exc, "title", None) == "PwrSettings":
        return settings_problem(exc)
    if isinstance(exc, OSError) and exc.filename:
        # the file system refused (permissions, a full disk, a file where a directory belongs):
        # the path and the reason are the whole story
        return f"{exc.filename}: {exc.strerror or exc} (check PWR_HOME and the permissions on that path)"
    if caught("alembic.util.exc", "CommandError"):  # e.g. `pwr db upgrade --revision` unknown
        return f"schema migration: {exc}"
    return None


class PwrCommands(click.Group):
    """The command group that turns an operational failure into one line, never a traceback.

    Commands raise these when the server, a service or the database refuses, or when a ``PWR_*``
    variable cannot be read; their messages say what failed and what to do, so the operator gets
    the message and exit code 1. Failures a command can name more precisely (a file, a row, a
    field) are handled in the command itself."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            message = one_line(exc)
            if message is None:
                raise
            raise click.ClickException(message) from None


@click.group(cls=PwrCommands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """PwR Platform: Discord voice activity → PostgreSQL warehouse → Dagster → Superset."""


for command in (
    db,
    stack.env_cmd,
    stack.up,
    stack.down,
    stack.status,
    logs,
    ingest.ingest,
    ingest.simulate,
    ingest.bot,
    events,
    digest,
    dota,
    materialize_cmd,
    superset_group,
):
    main.add_command(command)

if __name__ == "__main__":
    main()
