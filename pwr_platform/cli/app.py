"""The ``pwr`` command: one entry point for operators. Each command group lives in its own module
of this package and is registered here with one line."""

from __future__ import annotations

import click

from pwr_platform.cli import ingest, stack
from pwr_platform.cli.db import db
from pwr_platform.cli.digest import digest
from pwr_platform.cli.events import events
from pwr_platform.cli.logs import logs
from pwr_platform.cli.materialize import materialize_cmd
from pwr_platform.cli.superset import superset_group


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


class PwrCommands(click.Group):
    """The command group that turns an operational failure into one line, never a traceback.

    Commands raise these when the server, a service or the database refuses, or when a ``PWR_*``
    variable cannot be read; their messages say what failed and what to do, so the operator gets
    the message and exit code 1. Failures a command can name more precisely (a file, a row, a
    field) are handled in the command itself."""

    def invoke(self, ctx: click.Context):
        import alembic.util.exc
        import psycopg
        import pydantic
        import sqlalchemy.exc

        from pwr_platform.bi.superset_api import SupersetApiError
        from pwr_platform.runtime.embedded_postgres import EmbeddedPostgresError
        from pwr_platform.runtime.services import ServiceStopError
        from pwr_platform.runtime.superset_service import SupersetSetupError

        try:
            return super().invoke(ctx)
        except (EmbeddedPostgresError, ServiceStopError, SupersetSetupError) as exc:
            raise click.ClickException(str(exc).strip()) from None
        except SupersetApiError as exc:
            message = str(exc).strip()
            raise click.ClickException(
                message if message.startswith("Superset") else f"Superset: {message}"
            ) from None
        except (psycopg.OperationalError, sqlalchemy.exc.OperationalError) as exc:
            reason = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
            raise click.ClickException(f"cannot reach PostgreSQL: {str(reason).strip()}") from None
        except pydantic.ValidationError as exc:
            if exc.title != "PwrSettings":
                raise
            raise click.ClickException(settings_problem(exc)) from None
        except alembic.util.exc.CommandError as exc:
            raise click.ClickException(f"schema migration: {exc}") from None


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
    materialize_cmd,
    superset_group,
):
    main.add_command(command)

if __name__ == "__main__":
    main()
