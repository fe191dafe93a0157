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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
