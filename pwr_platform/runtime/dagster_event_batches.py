"""A backfill's per-partition Dagster events, written in batches.

Why: a run over a range of partitions (a backfill as one run, ``BackfillPolicy.single_run()``)
makes Dagster store two events per partition: "materialization planned" when the run is created
(by the daemon, the webserver or ``pwr materialize``) and "materialization" when the asset
returns. dagster-postgres stores each on its own: an INSERT, a NOTIFY and an upsert of the
asset's row, each a round trip. For the 730 partitions of a two-year daily backfill that was
16–26 s of storage work around 20 s of SQL — more than the backfill itself (issue 16, fifth round,
bench/README.md; the benchmark had used an in-memory instance and not seen it).

Dagster batches these events itself when ``DAGSTER_EVENT_BATCH_SIZE`` is set (its switch for
batched storage writes; off by default in open-source Dagster): the events of one run's
partitions reach the storage as one batch, and dagster-postgres writes a batch of
materializations with one INSERT. A batch of *planned* events it still writes one by one; this
storage writes them as it writes materializations — one INSERT of the same rows, and the asset's
row (last run, last event time) upserted once per asset from that asset's last event of the batch,
which is what the one-by-one path leaves behind after its last event. Every other event goes the
one-by-one way, unchanged. ``test_dagster_event_batches.py`` runs both paths on real PostgreSQL:
the same stored rows, the same partition status in the UI (planned, materialized, failed), one
write instead of hundreds.

The batch size is set by :func:`enable_event_batches` (called by the platform's storage, so every
Dagster process that loads the platform's ``dagster.yaml`` writes batches), unless the
environment already sets it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import groupby
from typing import TYPE_CHECKING

from dagster import DagsterEventType
from dagster_postgres import PostgresEventLogStorage

if TYPE_CHECKING:
    from dagster import EventLogEntry

EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
# Events per storage write: above the partitions of any one run here (730 days, 105 weeks).
EVENT_BATCH_SIZE = 1000


def enable_event_batches() -> None:
    """Ask Dagster to hand a run's per-partition events to the storage in batches (the value
    already in the environment wins)."""
    os.environ.setdefault(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))


def _is_planned_materialization(event: EventLogEntry) -> bool:
    dagster_event = event.dagster_event
    return (
        dagster_event is not None
        and dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        and dagster_event.asset_key is not None
    )


class BatchedPostgresEventLogStorage(PostgresEventLogStorage):
    """dagster-postgres's event log, writing a batch of planned materializations at once."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        # consecutive events of one kind together, in their order: planned materializations here,
        # any other run of events (a batch of materializations, say) to dagster-postgres's batch
        for planned, group in groupby(events, key=_is_planned_materialization):
            if planned:
                self._store_planned(list(group))
            else:
                super().store_event_batch(list(group))

    def _store_planned(self, events: Sequence[EventLogEntry]) -> None:
        """Planned materializations: the rows ``store_event`` writes, in one INSERT; then each
        asset's row from its last event (as ``store_event`` leaves it after that event)."""
        if len(events) < 2:
            for event in events:
                self.store_event(event)
            return
        with self._connect() as conn:
            result = conn.execute(self.prepare_insert_event_batch(events).returning(self._event_id_column()))
            event_ids = [int(row[0]) for row in result.fetchall()]
        last_per_asset = {}
        for event, event_id in zip(events, event_ids, strict=True):
            last_per_asset[event.dagster_event.asset_key] = (event, event_id)
        with self.index_transaction() as conn:
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in last_per_asset.values():
                self._store_asset_event(conn, event, event_id)

    @staticmethod
    def _event_id_column():
        from dagster._core.storage.event_log.schema import SqlEventLogStorageTable

        return SqlEventLogStorageTable.c.id
