"""The Dagster instance under ``PWR_HOME/dagster_home``: run, event-log and schedule storage in PostgreSQL.

``dagster.yaml`` names no secret: the storage URL (with the database password) reaches the
webserver, daemon and run workers through the ``PWR_DAGSTER_STORAGE_URL`` environment variable,
which :func:`dagster_env` builds and ``pwr up`` / ``pwr env`` hand to every Dagster process.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from pwr_platform.paths import REPO_ROOT
from pwr_platform.settings import PwrSettings, get_settings
from pwr_platform.warehouse.connection import dagster_storage_url, warehouse_url

STORAGE_URL_ENV = "PWR_DAGSTER_STORAGE_URL"
# Loads the code location in-process (dagster dev, the CLI, tests); the stack's services use the
# gRPC workspace of write_workspace instead.
WORKSPACE_FILE = REPO_ROOT / "workspace.yaml"
MAX_CONCURRENT_RUNS = 4
RUN_MONITORING_SECONDS = 60
"""How often the daemon checks the started runs (``run_monitoring`` below)."""
DEQUEUE_INTERVAL_SECONDS = 15
# How often the daemon's run-retry consumer (which reads the event log for failed runs) and its
# freshness evaluator wake up. Dagster reads these only from the environment, not dagster.yaml;
# its defaults (5 s and 30 s) are the idle stack's largest share after the run queue. A failed
# run is retried within a minute, a freshness state is re-evaluated every 2 minutes (the
# policies are hourly and nightly).
DAEMON_INTERVALS_ENV = {
    "DAGSTER_EVENT_LOG_CONSUMER_DAEMON_INTERVAL_SECONDS": "60",
    "FRESHNESS_DAEMON_INTERVAL_SECONDS": "120",
}
LOCATION_NAME = "pwr_platform"


def instance_config() -> dict:
    return {
        # postgresql+psycopg2 scheme: with SQLAlchemy 2.1 the bare "postgresql" scheme no longer
        # means psycopg2, which is the driver dagster-postgres is written for.
        # Dagster's PostgreSQL storage with one kept connection per storage in every process
        # (runtime/pooled_dagster_storage.py): dagster-postgres alone opens a connection per call.
        "storage": {
            "custom": {
                "module": "pwr_platform.runtime.pooled_dagster_storage",
                "class": "PooledPostgresStorage",
                "config": {"postgres_url": {"env": STORAGE_URL_ENV}},
            }
        },
        # Dagster's default launcher, which also terminates runs of `pwr materialize` (they run in
        # that command's process, out of the default launcher's reach): runtime/run_launcher.py
        "run_launcher": {
            "module": "pwr_platform.runtime.run_launcher",
            "class": "MaterializeAwareRunLauncher",
        },
        # Dagster's public run-queue setting (the default run coordinator queues runs): on 2 cores
        # more parallel runs only queue up inside PostgreSQL. No class or module paths of Dagster's
        # here: they are Dagster's private layout and move between releases (the storage class
        # above is the platform's own, a subclass of dagster-postgres's public one).
        "concurrency": {"runs": {"max_concurrent_runs": MAX_CONCURRENT_RUNS}},
        # The daemon looks for queued runs every DEQUEUE_INTERVAL_SECONDS (Dagster's default is 5):
        # each look is several storage queries, each a new PostgreSQL connection (dagster-postgres
        # pools none), most of the idle stack's CPU at 5 s (issue 16). Runs come from sensors that
        # tick every 90 s or more, so a few seconds more before one starts change no freshness
        # figure.
        "run_queue": {"dequeue_interval_seconds": DEQUEUE_INTERVAL_SECONDS},
        # Failed runs are retried by the daemon when their job asks for it (tag
        # dagster/max_retries: the core refresh and the aggregate jobs, all idempotent); the
        # attendance sensor retries its own runs (defs/sensors.py), so the default is none.
        "run_retries": {"enabled": True, "max_retries": 0},
        # The daemon asks the run launcher every minute whether each started run's worker lives:
        # a run of a `pwr materialize` killed (here, or in a container or on a machine that stopped)
        # is marked failed with the reason (runtime/run_owner.py), so it no longer holds one of
        # the queue's slots. Dagster's defaults for the rest: a run not started in 180 s fails, a
        # run canceling for 180 s is marked canceled.
        "run_monitoring": {"enabled": True, "poll_interval_seconds": RUN_MONITORING_SECONDS},
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},
        "retention": {"schedule": {"purge_after_days": 30}, "sensor": {"purge_after_days": {"skipped": 7}}},
    }


def write_instance(settings: PwrSettings | None = None) -> Path:
    """Write ``dagster.yaml`` (idempotent) and return DAGSTER_HOME."""
    settings = settings or get_settings()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    text = "# Written by `pwr` (pwr_platform/runtime/dagster_instance.py); edits are overwritten.\n"
    text += yaml.safe_dump(instance_config(), sort_keys=False)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return home


def write_workspace(settings: PwrSettings | None = None) -> Path:
    """``DAGSTER_HOME/workspace.yaml`` of the local stack (idempotent): the webserver and the daemon
    reach the code location through the long-lived code server (``dagster-code-server`` in
    services.py) over gRPC, as the compose deployment does, instead of each importing it in a
    code-server process of its own (issue 16: one import of the code location, not one per
    consumer, and one process that launches every run)."""
    settings = settings or get_settings()
    target = write_instance(settings) / "workspace.yaml"
    entry = {"host": "127.0.0.1", "port": settings.code_server_port, "location_name": LOCATION_NAME}
    text = "# Written by `pwr` (pwr_platform/runtime/dagster_instance.py); edits are overwritten.\n"
    text += yaml.safe_dump({"load_from": [{"grpc_server": entry}]}, sort_keys=False)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


def dagster_env(settings: PwrSettings | None = None, *, start: bool = False) -> dict[str, str]:
    """Environment for any Dagster process of this platform (webserver, daemon, CLI, tests)."""
    settings = settings or get_settings()
    home = write_instance(settings)
    env = {
        "DAGSTER_HOME": str(home),
        STORAGE_URL_ENV: dagster_storage_url(settings, start=start),
        "PWR_HOME": str(settings.home),
        **DAEMON_INTERVALS_ENV,
    }
    if settings.database_url is None:
        # Resolve the embedded server's URL once so run workers need not read the secrets dir.
        env["PWR_DATABASE_URL"] = warehouse_url(settings, start=start)
    return env


def apply_env(settings: PwrSettings | None = None, *, start: bool = False) -> None:
    os.environ.update(dagster_env(settings, start=start))
