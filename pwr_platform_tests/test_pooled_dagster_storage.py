"""The platform's Dagster storage keeps its PostgreSQL connections, and survives a server restart.

dagster-postgres alone opens a new connection for nearly every storage call (issue 16: ~210 a
minute on the idle stack); ``runtime/pooled_dagster_storage.py`` keeps one per storage. These run
against real PostgreSQL servers: the suite's, for the connection counts, and one of the test's
own, stopped and started under a live instance, for the restart.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.test_utils import create_run_for_test
from dagster_postgres import PostgresRunStorage

from pwr_platform.runtime.dagster_instance import STORAGE_URL_ENV, instance_config
from pwr_platform.runtime.embedded_postgres import EmbeddedPostgres
from pwr_platform.warehouse.connection import sqlalchemy_url, with_database
from pwr_platform_tests.conftest import create_database, drop_database
from pwr_platform_tests.test_writer import own_server  # noqa: F401 - fixture

pytestmark = pytest.mark.warehouse

CALLS = 100


def storage_calls(instance: DagsterInstance) -> None:
    """What the daemon's loops ask every few seconds: runs, instigator states, the event log."""
    for _ in range(CALLS):
        instance.get_runs(limit=5)
        instance.all_instigator_state()
        instance.get_latest_materialization_events([])


def sessions_opened(server_url: str, database: str) -> int:
    """Connections ever opened to ``database`` (PostgreSQL's own counter; its statistics reach the
    shared counters within about a second, hence the wait)."""
    time.sleep(1.5)
    with psycopg.connect(server_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT sessions FROM pg_catalog.pg_stat_database WHERE datname = %s", (database,)
        ).fetchone()[0]


def instance_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, storage_url: str, storage: dict | None = None
) -> DagsterInstance:
    """An instance from the platform's ``dagster.yaml`` (or with ``storage`` in its place)."""
    config = instance_config()
    if storage is not None:
        config["storage"] = storage
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv(STORAGE_URL_ENV, storage_url)
    instance = DagsterInstance.from_config(str(tmp_path))
    assert isinstance(instance.run_storage, PostgresRunStorage), instance.run_storage
    return instance


def test_the_platform_storage_keeps_its_connections_where_dagster_postgres_opens_one_per_call(
    pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "pwr_test_dagster_pool_" + str(time.time_ns())[-8:]
    create_database(pg_server_url, name)
    storage_url = sqlalchemy_url(with_database(pg_server_url, name), "psycopg2")
    opened = {}
    try:
        for kind, storage in (
            ("dagster-postgres", {"postgres": {"postgres_url": {"env": STORAGE_URL_ENV}}}),
            ("platform", None),
        ):
            (tmp_path / kind).mkdir()
            instance = instance_on(tmp_path / kind, monkeypatch, storage_url, storage)
            try:
                before = sessions_opened(pg_server_url, name)
                storage_calls(instance)
                opened[kind] = sessions_opened(pg_server_url, name) - before
            finally:
                instance.dispose()
    finally:
        drop_database(pg_server_url, name)
    print(f"\nconnections opened for {3 * CALLS} storage calls: {opened}")
    # The control: the stock storage connects for every call — what the pooled one must not do.
    assert opened["dagster-postgres"] >= 3 * CALLS, opened
    # One kept connection per storage (run, event log, schedule).
    assert opened["platform"] <= 3, opened


@pytest.mark.parametrize("process", ["daemon", "webserver"])
def test_a_restart_of_postgres_under_a_live_instance_fails_no_call_and_loses_no_data(
    process: str,
    own_server: EmbeddedPostgres,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every storage (runs, schedules and sensors, the event log) answers its first call after a
    restart. "daemon": the instance as the daemon, code server and run workers load it;
    "webserver": re-optimized as dagster-webserver does, with its own statement timeout."""
    create_database(own_server.url("postgres"), "dagster")  # the warehouse has its own Alembic table
    storage_url = sqlalchemy_url(own_server.url("dagster"), "psycopg2")
    instance = instance_on(tmp_path, monkeypatch, storage_url)
    if process == "webserver":
        instance.optimize_for_webserver(statement_timeout=15_000, pool_recycle=3600, max_overflow=20)
    try:
        before = create_run_for_test(instance, job_name="before_restart", status=DagsterRunStatus.SUCCESS)
        storage_calls_once = {
            "runs": lambda: instance.get_run_by_id(before.run_id),
            "schedules and sensors": instance.all_instigator_state,
            "event log": lambda: instance.get_latest_materialization_events([]),
        }
        for call in storage_calls_once.values():
            call()  # a kept connection now exists in each storage

        own_server.stop()
        own_server.start()

        failures = {}
        for name, call in storage_calls_once.items():
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - what the daemon's loop or a UI page would meet
                failures[name] = exc
        print(f"\ncalls failed after the restart ({process}): {failures}")
        # every pooled connection is pinged when a call takes it: the dead one is replaced unseen
        assert failures == {}, failures
        seen = instance.get_run_by_id(before.run_id)
        assert seen is not None and seen.status == DagsterRunStatus.SUCCESS
        after = create_run_for_test(instance, job_name="after_restart")
        assert {r.job_name for r in instance.get_runs()} == {"before_restart", "after_restart"}
        assert instance.get_run_by_id(after.run_id) is not None
    finally:
        instance.dispose()
