"""The ``pwr`` command: one entry point for operators. Each command group lives in its own module
of this package and is registered here with one line."""

from __future__ import annotations

import click

from pwr_platform.cli import ingest, stack
from pwr_platform.cli.db import db
from pwr_platform.cli.digest import digest
from pwr_platform.cli.dota import dota
from pwr_platform.cli.events import events
from pwr_platform.cli.logs import logs
from pwr_platform.cli.materialize import materialize_cmd
from pwr_platform.cli.superset import superset_group


class PwrCommands(click.Group):
    """The command group that turns an operational failure into one line, never a traceback.

    Commands raise these when the server, a service or the database refuses; their messages
    already say what failed and what to do, so the operator gets the message and exit code 1."""

    def invoke(self, ctx: click.Context):
        import psycopg
        import sqlalchemy.exc

        from pwr_platform.runtime.embedded_postgres import EmbeddedPostgresError
        from pwr_platform.runtime.services import ServiceStopError
        from pwr_platform.runtime.superset_service import SupersetSetupError

        try:
            return super().invoke(ctx)
        except (EmbeddedPostgresError, ServiceStopError, SupersetSetupError) as exc:
            raise click.ClickException(str(exc).strip()) from None
        except (psycopg.OperationalError, sqlalchemy.exc.OperationalError) as exc:
            reason = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
            raise click.ClickException(f"cannot reach PostgreSQL: {str(reason).strip()}") from None


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
