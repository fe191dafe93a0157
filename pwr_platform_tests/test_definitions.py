"""The Dagster code location loads, and the instance it runs on stores everything in PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

from dagster import Definitions

from pwr_platform.definitions import build_definitions
from pwr_platform.runtime.dagster_instance import REPO_ROOT

defs = build_definitions()


def test_definitions_load_without_error() -> None:
    Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert "warehouse" in repo.get_top_level_resources()


def test_every_job_runs_its_steps_in_the_run_worker() -> None:
    """Issue 16: the jobs are a few SQL statements each; a process per step (the multiprocess
    default) was most of a live run's CPU."""
    repo = defs.get_repository_def()
    jobs = [job for job in repo.get_all_jobs() if not job.name.startswith("__")]
    assert jobs
    assert {job.name: job.executor_def.name for job in jobs} == {job.name: "in_process" for job in jobs}


def test_definitions_accept_a_test_warehouse() -> None:
    from pwr_platform.defs.resources import WarehouseResource

    custom = build_definitions(WarehouseResource(database_url="postgresql://x@127.0.0.1:1/y"))
    Definitions.validate_loadable(custom)


def test_workspace_yaml_loads_with_dagster_cli() -> None:
    result = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "dagster"),
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_instance_keeps_runs_events_and_schedules_in_postgres(platform_instance) -> None:
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    # dagster-postgres's storages, their pooled connections pinged (pooled_dagster_storage.py); the
    # event log writes a batch of planned events at once (dagster_event_batches.py)
    assert isinstance(platform_instance.run_storage, PostgresRunStorage)
    assert isinstance(platform_instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(platform_instance.schedule_storage, PostgresScheduleStorage)
    assert platform_instance.get_runs() == []


SNAPSHOT = REPO_ROOT / "pwr_platform_tests" / "snapshots" / "asset_graph.txt"


def describe_graph() -> str:
    """Assets with their upstreams and partitioning, checks, jobs, schedules and sensors, as text."""
    graph = defs.resolve_asset_graph()
    lines = ["# assets: key <- upstream keys [partitions] {kinds}"]
    for key in graph.toposorted_asset_keys:
        node = graph.get(key)
        parents = ", ".join(sorted(p.to_user_string() for p in node.parent_keys)) or "-"
        partitions = type(node.partitions_def).__name__ if node.partitions_def else "unpartitioned"
        kinds = ", ".join(sorted(node.kinds)) or "-"
        lines.append(f"{key.to_user_string()} <- {parents} [{partitions}] {{{kinds}}}")
    lines.append("# asset checks")
    lines += sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys)
    repo = defs.get_repository_def()
    lines.append("# jobs")
    lines += sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__"))
    lines.append("# schedules")
    lines += sorted(f"{s.name} {s.cron_schedule} {s.default_status.value}" for s in repo.schedule_defs)
    lines.append("# sensors")
    lines += sorted(f"{s.name} {s.default_status.value}" for s in repo.sensor_defs)
    return "\n".join(lines) + "\n"


def test_asset_graph_matches_its_snapshot() -> None:
    """An accidental change to the graph, checks or automation shows in review as a snapshot diff.
    After an intended change: PWR_UPDATE_SNAPSHOTS=1 pytest -k snapshot, and commit the file."""
    current = describe_graph()
    if os.environ.get("PWR_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.read_text() == current
