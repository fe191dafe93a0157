"""Settings keep secrets as ``SecretStr``; the generated ``dagster.yaml`` uses only public configuration."""

from __future__ import annotations

from importlib import import_module

import yaml

from pwr_platform.runtime.dagster_instance import MAX_CONCURRENT_RUNS, instance_config
from pwr_platform.settings import PwrSettings
from pwr_platform.warehouse.connection import (
    dagster_storage_url,
    warehouse_url,
)
from pwr_platform.warehouse.role_passwords import role_passwords_from_settings

SECRETS = {
    "database_url": "postgresql://pwr:w-pass@db.example:5432/pwr",
    "dagster_database_url": "postgresql://dagster:d-pass@db.example:5432/dagster",
    "discord_token": "t0ken-value",
    "superset_admin_password": "admin-pass",
    "superset_db_password": "reader-pass",
    "bot_db_password": "bot-pass",
    "superset_metadata_url": "postgresql://superset:m-pass@db.example/superset",
}


def test_secrets_never_show_when_settings_are_printed(tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(f"PWR_{name.upper()}", value)
    settings = PwrSettings(home=tmp_path)
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for value in SECRETS.values():
        assert value not in shown
    for secret in ("w-pass", "d-pass", "t0ken", "admin-pass", "reader-pass", "bot-pass", "m-pass"):
        assert secret not in shown
    # … and each reaches the one place that needs it
    assert warehouse_url(settings) == SECRETS["database_url"]
    assert dagster_storage_url(settings) == "postgresql+psycopg2://dagster:d-pass@db.example:5432/dagster"
    assert role_passwords_from_settings(settings) == {"pwr_bot": "bot-pass", "pwr_reader": "reader-pass"}
    assert settings.discord_token.get_secret_value() == "t0ken-value"


def test_dagster_yaml_names_no_private_module():
    """Dagster's module layout moves between releases: the only classes named are the platform's
    own storage (a subclass of dagster-postgres's public ``DagsterPostgresStorage``) and run
    launcher (a subclass of Dagster's public ``DefaultRunLauncher``)."""
    from dagster import DefaultRunLauncher

    config = instance_config()
    storage = config.pop("storage")["custom"]
    assert storage["module"] == "pwr_platform.runtime.pooled_dagster_storage"
    assert storage["class"] == "PooledPostgresStorage"
    launcher = config.pop("run_launcher")
    assert launcher == {"module": "pwr_platform.runtime.run_launcher", "class": "MaterializeAwareRunLauncher"}
    assert issubclass(import_module(launcher["module"]).MaterializeAwareRunLauncher, DefaultRunLauncher)
    text = yaml.safe_dump(config)
    assert "_core" not in text and "module" not in text and "class" not in text
    assert instance_config()["concurrency"] == {"runs": {"max_concurrent_runs": MAX_CONCURRENT_RUNS}}


def test_the_instance_queues_runs_at_the_configured_limit(platform_instance):
    assert type(platform_instance.run_launcher).__name__ == "MaterializeAwareRunLauncher"
    assert type(platform_instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    queue = platform_instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == MAX_CONCURRENT_RUNS


def test_the_launcher_asks_a_live_pwr_materialize_to_stop_its_run_and_names_a_dead_one(platform_instance):
    """Terminate on a run of `pwr materialize` (tagged with its process): a live process's run is
    marked CANCELING and the answer is True (the command stops it, test_dagster_ui_runs.py); a
    process that is gone can act on nothing, so the answer is False and the run's log says what to
    do. A run without the tag goes to Dagster's own launcher (no code server knows it: False)."""
    import subprocess
    import sys

    from dagster import DagsterRun, DagsterRunStatus

    from pwr_platform.runtime.run_owner import PROCESS_TAG, process_tags

    (mine,) = process_tags().values()
    host, boot, _, _ = mine.split("/")
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    runs = {
        "live": {PROCESS_TAG: mine},
        "gone": {PROCESS_TAG: f"{host}/{boot}/{int(ended.stdout)}/1"},
        "untagged": {},
    }
    for name, tags in runs.items():
        platform_instance.add_run(
            DagsterRun(job_name=name, run_id=name, status=DagsterRunStatus.STARTED, tags=tags)
        )
    launcher = platform_instance.run_launcher
    assert launcher.terminate("live") is True
    assert launcher.terminate("gone") is False
    assert launcher.terminate("untagged") is False
    status = {r.job_name: r.status for r in platform_instance.get_runs()}
    assert status["live"] == DagsterRunStatus.CANCELING
    assert status["gone"] == DagsterRunStatus.STARTED  # Force termination remains the UI's offer
    said = [entry.message for entry in platform_instance.all_logs("gone")]
    assert any("is gone: nothing is left to stop. Use Force termination" in m for m in said), said


def test_the_daemons_run_monitoring_hears_from_the_launcher_which_pwr_materialize_runs_are_dead(
    platform_instance,
):
    """The daemon's run monitoring (on, every minute) asks the launcher whether a started run's
    worker lives. A run of `pwr materialize` is dead when its process of this host is gone, or its
    process of another host (a container, a machine) has been silent for SILENT_AFTER_SECONDS; its
    answer carries the reason the daemon writes into the run's log. Everything else is RUNNING, as
    Dagster's own launcher would leave it."""
    import subprocess
    import sys
    import time

    from dagster import DagsterRun, DagsterRunStatus
    from dagster._core.launcher import WorkerStatus

    from pwr_platform.runtime.dagster_instance import RUN_MONITORING_SECONDS
    from pwr_platform.runtime.run_owner import HEARTBEAT_KEY, PROCESS_TAG, SILENT_AFTER_SECONDS, process_tags

    assert platform_instance.run_monitoring_enabled
    assert platform_instance.run_monitoring_poll_interval_seconds == RUN_MONITORING_SECONDS
    (mine,) = process_tags().values()
    host, boot, _, _ = mine.split("/")
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    elsewhere = f"container-{host}/{boot}/{int(ended.stdout)}"
    tags = {
        "live": mine,
        "gone": f"{host}/{boot}/{int(ended.stdout)}/1",
        "heard": f"{elsewhere}/1",
        "silent": f"{elsewhere}/2",
        "just started": f"{elsewhere}/3",
    }
    platform_instance.daemon_cursor_storage.set_cursor_values(
        {
            HEARTBEAT_KEY + tags["heard"]: f"{time.time() - 25:.0f}",
            HEARTBEAT_KEY + tags["silent"]: f"{time.time() - SILENT_AFTER_SECONDS - 60:.0f}",
        }
    )
    runs = {name: {PROCESS_TAG: value} for name, value in tags.items()} | {"untagged": {}}
    for name, run_tags in runs.items():
        platform_instance.add_run(
            DagsterRun(job_name=name, run_id=name, status=DagsterRunStatus.STARTED, tags=run_tags)
        )
    launcher = platform_instance.run_launcher
    assert launcher.supports_check_run_worker_health
    health = {name: launcher.check_run_worker_health(platform_instance.get_run_by_id(name)) for name in runs}
    assert {name: h.status for name, h in health.items()} == {
        "live": WorkerStatus.RUNNING,
        "gone": WorkerStatus.FAILED,
        "heard": WorkerStatus.RUNNING,
        "silent": WorkerStatus.FAILED,
        "just started": WorkerStatus.RUNNING,
        "untagged": WorkerStatus.RUNNING,
    }
    assert health["gone"].msg.startswith(
        f"The `pwr materialize` process that ran this run (pid {ended.stdout.strip()}) ended"
    )
    assert f"on container-{host}) has said nothing for 2" in health["silent"].msg  # 240 s
    assert health["silent"].msg.endswith("Marked failed by the daemon's run monitoring.")
