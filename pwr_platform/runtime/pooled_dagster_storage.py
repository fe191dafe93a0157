"""Dagster's PostgreSQL storage, holding one connection per storage in every Dagster process.

Why: dagster-postgres opens a new PostgreSQL connection for nearly every storage call (SQLAlchemy
``NullPool``) everywhere but in the webserver. On the local stack that was ~210 connections a
minute with no new data (the daemon's loops: run queue, sensors, schedules, backfills, heartbeats)
and several hundred more per live run (each event a run writes), every one a forked backend, a
SCRAM handshake (~1.9 ms of client CPU alone) and cold catalog caches: most of PostgreSQL's share
of the idle stack and a good part of the daemon's (issue 16, bench/README.md).

This class is Dagster's own ``DagsterPostgresStorage`` with the pooling Dagster itself applies in
the webserver — each of the three storages' public ``optimize_for_webserver``: a pool of one kept
connection plus overflow connections for concurrent threads — applied in every process that
loads the instance (daemon, code server, run workers, the CLI). No statement timeout is set (0),
as with Dagster's default storage outside the webserver; the webserver sets its own on top.

After a PostgreSQL restart (or a backend ended by an administrator, or a dropped network
connection) the kept connection is dead. Each connection is therefore pinged with ``SELECT 1`` when
a storage call takes it from the pool — SQLAlchemy's documented pessimistic disconnect handling:
a ``checkout`` listener that raises ``DisconnectionError`` makes the pool throw that connection
away and hand out a new one. Without it, the first call of every Dagster process after a restart
failed (a sensor tick, a run's event write, a page of the UI); now none does
(``test_pooled_dagster_storage.py`` restarts the server under a live instance, as the daemon and
run workers hold it and as the webserver re-optimizes it). The ping is attached wherever the
engine is made (``PingedEngine``), so the webserver's own ``optimize_for_webserver`` keeps it.
It costs ~0.2 ms of client CPU a call (bench/README.md, sixth round), against the 2-3 new
connections per call the pool replaced.

Its event log batches as :class:`~pwr_platform.runtime.dagster_event_batches.BatchedPostgresEventLogStorage`
does, and it turns on Dagster's batched event writes: a run over many partitions stores their events in
a few writes instead of hundreds (``runtime/dagster_event_batches.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import psycopg2
from dagster_postgres import DagsterPostgresStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

from pwr_platform.runtime.dagster_event_batches import BatchedPostgresEventLogStorage, enable_event_batches

if TYPE_CHECKING:
    from dagster._serdes import ConfigurableClassData

# A kept connection older than this is replaced on its next use (PostgreSQL backends grow their
# catalog caches; an hour bounds that, at one reconnect an hour per storage).
POOL_RECYCLE_SECONDS = 3600
# Connections beyond the kept one, for threads that use a storage at the same moment (the
# daemon's loops, the webserver's requests); they are closed when returned.
POOL_MAX_OVERFLOW = 10


def ping_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool ``checkout`` listener: a connection that cannot answer ``SELECT 1`` is discarded and
    the pool connects afresh (SQLAlchemy retries the checkout on ``DisconnectionError``)."""
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except psycopg2.Error as error:
        raise DisconnectionError(f"kept Dagster storage connection is gone: {error}") from error


class PingedEngine:
    """Mixin for a dagster-postgres storage: whenever its engine is made anew for pooling (here,
    and again by the webserver, which calls ``optimize_for_webserver`` with its own statement
    timeout), each connection the pool hands out is pinged first."""

    def optimize_for_webserver(self, statement_timeout: int, pool_recycle: int, max_overflow: int) -> None:
        super().optimize_for_webserver(statement_timeout, pool_recycle, max_overflow)  # ty: ignore[unresolved-attribute]
        # the engine just made: dagster-postgres keeps it as ``_engine`` in all three storages (the
        # Dagster family is pinned; the restart test fails without the ping)
        event.listen(self._engine, "checkout", ping_on_checkout)  # ty: ignore[unresolved-attribute]


class PingedRunStorage(PingedEngine, PostgresRunStorage):
    """dagster-postgres's run storage, pinged (``PingedEngine``)."""


class PingedScheduleStorage(PingedEngine, PostgresScheduleStorage):
    """dagster-postgres's schedule storage, pinged (``PingedEngine``)."""


class PingedEventLogStorage(PingedEngine, BatchedPostgresEventLogStorage):
    """The batching event log (``runtime/dagster_event_batches.py``), pinged (``PingedEngine``)."""


class PooledPostgresStorage(DagsterPostgresStorage):
    """``DagsterPostgresStorage`` whose run, event-log and schedule storages keep a connection,
    and whose event log writes a run's per-partition events in batches."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        # dagster-postgres's three storages, swapped for the pinged ones (the event log also
        # batches planned events); their tables exist now: the storages above created them when
        # asked to
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            storage.dispose()
        kwargs = {"should_autocreate_tables": False, "token_provider": token_provider}
        self._run_storage = PingedRunStorage(postgres_url, **kwargs)
        self._event_log_storage = PingedEventLogStorage(postgres_url, **kwargs)
        self._schedule_storage = PingedScheduleStorage(postgres_url, **kwargs)
        enable_event_batches()
        for storage in (self.run_storage, self.event_log_storage, self.schedule_storage):
            storage.optimize_for_webserver(
                statement_timeout=0, pool_recycle=POOL_RECYCLE_SECONDS, max_overflow=POOL_MAX_OVERFLOW
            )

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledPostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
