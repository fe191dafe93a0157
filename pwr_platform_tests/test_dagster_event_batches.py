"""A run over many partitions stores its events in a few writes, and the UI sees the same.

``runtime/dagster_event_batches.py`` turns on Dagster's batched event writes and writes a batch of
planned materializations at once (dagster-postgres writes those one by one). Each test here runs
the same single-run backfill on two instances on real PostgreSQL — dagster-postgres's own storage
with Dagster's defaults (the control) and the platform's — and compares what a user and the UI
read back: every stored event, the asset's last run, each partition's status while the run runs
(in progress), after it (materialized) and after a failed run (failed); and counts the
transactions each storage committed for the run.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import yaml
from dagster import (
    AssetKey,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    Failure,
    asset,
    materialize,
)
from dagster._core.storage.partition_status_cache import AssetPartitionStatus

from pwr_platform.runtime.dagster_event_batches import EVENT_BATCH_SIZE_ENV
from pwr_platform.runtime.dagster_instance import STORAGE_URL_ENV, instance_config
from pwr_platform.warehouse.connection import sqlalchemy_url, with_database
from pwr_platform_tests.conftest import create_database, drop_database

pytestmark = pytest.mark.warehouse

DAYS = DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-03-02")  # 60 days
RANGE = {
    "dagster/asset_partition_range_start": "2025-01-01",
    "dagster/asset_partition_range_end": "2025-03-01",
}
SEEN_DURING_RUN: dict[str, list] = {}


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
def batched_ok(context) -> None:
    """Reads its own partitions' status from the instance while it runs (planned, not yet done)."""
    SEEN_DURING_RUN[context.instance.get_ref().storage_data.class_name] = list(
        context.instance.get_status_by_partition(
            AssetKey("batched_ok"), context.partition_keys, DAYS
        ).values()
    )


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
def batched_broken(context) -> None:
    raise Failure("this backfill fails on purpose")


def transactions(server_url: str, database: str) -> int:
    """Transactions committed in ``database`` so far (the server's counter reaches the shared
    statistics within about a second, hence the wait)."""
    time.sleep(1.5)
    with psycopg.connect(server_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT xact_commit FROM pg_catalog.pg_stat_database WHERE datname = %s", (database,)
        ).fetchone()[0]


def stored_events(instance: DagsterInstance, run_id: str) -> list[tuple]:
    records = instance.get_records_for_run(run_id, limit=10_000).records
    return sorted(
        (
            r.event_log_entry.dagster_event.event_type_value,
            r.event_log_entry.dagster_event.asset_key.to_user_string()
            if r.event_log_entry.dagster_event.asset_key
            else None,
            r.event_log_entry.dagster_event.partition,
        )
        for r in records
        if r.event_log_entry.dagster_event is not None
        and r.event_log_entry.dagster_event.asset_key is not None
    )


@pytest.fixture
def two_instances(pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(kind, instance, database) for dagster-postgres's storage and for the platform's."""
    monkeypatch.delenv(EVENT_BATCH_SIZE_ENV, raising=False)  # the control runs with Dagster's defaults
    made: list[list] = []  # [kind, database, instance]
    try:
        for kind, storage in (
            ("dagster-postgres", {"postgres": {"postgres_url": {"env": STORAGE_URL_ENV}}}),
            ("platform", None),
        ):
            name = f"pwr_test_dagster_batch_{kind.replace('-', '_')}_{time.time_ns() % 10**8}"
            create_database(pg_server_url, name)
            made.append([kind, name, None])
            config = instance_config()
            if storage is not None:
                config["storage"] = storage
            (tmp_path / kind).mkdir()
            (tmp_path / kind / "dagster.yaml").write_text(yaml.safe_dump(config))
            monkeypatch.setenv(
                STORAGE_URL_ENV, sqlalchemy_url(with_database(pg_server_url, name), "psycopg2")
            )
            made[-1][2] = DagsterInstance.from_config(str(tmp_path / kind))
        yield [(kind, instance, name) for kind, name, instance in made]
    finally:
        for _, name, instance in made:
            if instance is not None:
                instance.dispose()
            drop_database(pg_server_url, name)


def test_a_backfill_stores_the_same_events_in_a_few_writes(two_instances, pg_server_url: str, monkeypatch):
    partitions = DAYS.get_partition_keys()
    events, committed, last_runs, after = {}, {}, {}, {}
    for kind, instance, database in two_instances:
        if kind == "dagster-postgres":
            monkeypatch.delenv(EVENT_BATCH_SIZE_ENV, raising=False)
        else:
            monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, "1000")  # as the platform's storage sets it
        before = transactions(pg_server_url, database)
        result = materialize([batched_ok], instance=instance, tags=RANGE)
        committed[kind] = transactions(pg_server_url, database) - before
        assert result.success
        events[kind] = stored_events(instance, result.run_id)
        last_runs[kind] = (
            instance.get_latest_materialization_event(AssetKey("batched_ok")).run_id == result.run_id
        )
        after[kind] = set(instance.get_status_by_partition(AssetKey("batched_ok"), partitions, DAYS).values())

    # every planned and every materialization event, per partition, on both
    assert events["platform"] == events["dagster-postgres"]
    planned = [e for e in events["platform"] if e[0] == "ASSET_MATERIALIZATION_PLANNED"]
    done = [e for e in events["platform"] if e[0] == "ASSET_MATERIALIZATION"]
    assert sorted(p for _, _, p in planned) == partitions == sorted(p for _, _, p in done)
    # the UI's partition status: in progress while the run ran, materialized after it
    assert SEEN_DURING_RUN["PooledPostgresStorage"] == [AssetPartitionStatus.IN_PROGRESS] * len(partitions)
    assert SEEN_DURING_RUN["DagsterPostgresStorage"] == [AssetPartitionStatus.IN_PROGRESS] * len(partitions)
    assert after == {kind: {AssetPartitionStatus.MATERIALIZED} for kind in after}
    assert last_runs == {"dagster-postgres": True, "platform": True}
    # a write per batch instead of several per event (measured: 822 transactions against 44)
    assert committed["dagster-postgres"] >= 2 * 2 * len(partitions), committed
    assert committed["platform"] * 4 < committed["dagster-postgres"], committed


def test_a_failed_backfill_marks_every_partition_failed(two_instances, monkeypatch):
    partitions = DAYS.get_partition_keys()
    status = {}
    for kind, instance, _ in two_instances:
        if kind == "dagster-postgres":
            monkeypatch.delenv(EVENT_BATCH_SIZE_ENV, raising=False)
        else:
            monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, "1000")
        result = materialize([batched_broken], instance=instance, tags=RANGE, raise_on_error=False)
        assert not result.success
        status[kind] = instance.get_status_by_partition(AssetKey("batched_broken"), partitions, DAYS)
    assert status["platform"] == status["dagster-postgres"]
    assert set(status["platform"].values()) == {AssetPartitionStatus.FAILED}
