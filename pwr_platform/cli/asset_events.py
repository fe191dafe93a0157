"""Writes made from the command line, recorded in Dagster so the UI shows them.

`pwr events import`, `pwr events complete` and `pwr ingest` write warehouse tables outside any
Dagster run; without a record the asset pages would show the tables unchanged until the next
observation. Each command therefore reports one runless materialization per table it wrote to
the platform's Dagster instance (``$DAGSTER_HOME``, else the one `pwr up` writes under PWR_HOME),
with the command's figures as metadata.

Best effort by design: the user's data is already committed when this runs, so an instance that
cannot be reached (the stack is down, a copied database) costs one warning line, never the
command. Dagster is imported here, lazily, so `pwr` starts without it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from pwr_platform.settings import get_settings


def _instance_home() -> Path | None:
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    home = get_settings().dagster_home
    return home if (home / "dagster.yaml").is_file() else None


def record_writes(tables: Sequence[str], description: str, metadata: Mapping[str, object]) -> bool:
    """Report a materialization of each warehouse table (``schema.table``) written; True if recorded."""
    home = _instance_home()
    if home is None:
        return False  # no Dagster instance configured: nothing to tell
    try:
        from dagster import AssetKey, AssetMaterialization, DagsterInstance

        from pwr_platform.runtime.dagster_instance import STORAGE_URL_ENV, dagster_env

        if STORAGE_URL_ENV not in os.environ and not os.environ.get("DAGSTER_HOME"):
            os.environ.update(dagster_env())
        with DagsterInstance.from_config(str(home)) as instance:
            for table in tables:
                instance.report_runless_asset_event(
                    AssetMaterialization(
                        asset_key=AssetKey(table.split(".")),
                        description=description,
                        metadata={"pwr/command": description, **metadata},
                    )
                )
        return True
    except Exception as exc:  # noqa: BLE001 - best effort: the data is stored whatever happens here
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        click.echo(
            f"warning: stored, but not recorded in Dagster (instance {home}: {reason[:200]}); "
            "the asset pages catch up at the next observation.",
            err=True,
        )
        return False
