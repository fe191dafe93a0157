"""A warehouse built the way users get one: the simulator through the writer, then the whole
asset graph materialized through Dagster. Used by tests that need realistic, complete data
(Superset dashboards, backup/restore) rather than a hand-made scenario."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance

from pwr_platform.cli.materialize import materialize_graph, resolve_window
from pwr_platform.definitions import build_definitions
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.settings import get_settings
from pwr_platform_tests.conftest import create_database, drop_database, run_pwr


def pwr(url: str, home: Path, *args: str) -> str:
    """Run the ``pwr`` command as a user would, on the warehouse at ``url``; returns its output."""
    result = run_pwr({"PWR_DATABASE_URL": url, "PWR_HOME": str(home)}, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def simulate(url: str, home: Path, *, members: int, days: int, seed: int, end: str | None = None) -> None:
    """``pwr simulate`` into the warehouse at ``url``."""
    args = ["simulate", "--members", str(members), "--days", str(days), "--seed", str(seed)]
    if end:
        args += ["--end", end]
    pwr(url, home, *args)


def materialize_all(url: str) -> list[str]:
    """Every asset, every partition with data, through Dagster (ephemeral instance); returns the log."""
    lines: list[str] = []
    defs = build_definitions(WarehouseResource(database_url=url))
    window = resolve_window(url, get_settings().tz, None, None)
    with DagsterInstance.ephemeral() as instance:
        ok = materialize_graph(defs, instance, window, echo=lambda msg="", **_: lines.append(msg))
    assert ok, "\n".join(lines)
    assert not any("FAILED" in line for line in lines), "\n".join(lines)
    return lines


def build_demo_warehouse(url: str, home: Path, *, members: int = 120, days: int = 90, seed: int = 7) -> None:
    simulate(url, home, members=members, days=days, seed=seed)
    materialize_all(url)


@contextmanager
def scratch_warehouse(pg_server_url: str, template_db: str, prefix: str) -> Iterator[str]:
    """A migrated warehouse database of its own (uniquely named), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server_url, name, template=template_db)
    try:
        yield url
    finally:
        drop_database(pg_server_url, name)
