"""The one writer every ingestion path uses: batches of records → ``pwr_raw`` tables, idempotently.

A batch is written in ONE transaction: for each kind of record, ``COPY`` into a session-local
staging table, then ``INSERT … SELECT … ON CONFLICT DO NOTHING`` into the raw table, whose unique
natural key makes every replay (a re-run file, a replayed spool, a reconnect snapshot) a no-op.
Within a batch rows go in input order, so of two copies of one natural key the first stored wins.

When PostgreSQL is unreachable (connection refused, server shut down mid-batch) the batch goes to
the durable :class:`~pwr_platform.ingest.spool.Spool` instead, and so does every later batch
until the spool has been replayed, so rows reach the table in the order they arrived. Replays
are retried with a capped backoff. Without a spool (benchmarks, tests) the error propagates.

A batch the database refuses for its *content* (not its connection) is retried row by row:
voice rows that still fail go to quarantine with the database's reason; nothing blocks the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

import psycopg

from pwr_platform.ingest.records import Record, RejectedRecord, VoiceRecord, rejected
from pwr_platform.ingest.spool import Spool

log = logging.getLogger(__name__)

CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)
CONTENT_ERRORS = (psycopg.DataError, psycopg.IntegrityError)


@dataclass(frozen=True)
class TableSpec:
    """Where one kind of record goes, and the staging table it passes through."""

    kind: str
    target: str
    columns: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def stage(self) -> str:
        return f"pwr_stage_{self.kind}"

    @property
    def create_stage_sql(self) -> str:
        cols = ", ".join(f"{c} {t}" for c, t in zip(self.columns, self.types, strict=True))
        return f"CREATE TEMP TABLE IF NOT EXISTS {self.stage} (ord integer, {cols}) ON COMMIT DELETE ROWS"

    @property
    def copy_sql(self) -> str:
        return f"COPY {self.stage} (ord, {', '.join(self.columns)}) FROM STDIN"

    @property
    def insert_sql(self) -> str:
        cols = ", ".join(self.columns)
        return (
            f"INSERT INTO {self.target} ({cols}) SELECT {cols} FROM {self.stage} ORDER BY ord "
            "ON CONFLICT DO NOTHING"
        )

    @property
    def insert_one_sql(self) -> str:
        marks = ", ".join(f"%s::{t}" for t in self.types)
        return (
            f"INSERT INTO {self.target} ({', '.join(self.columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        )


TABLES: dict[str, TableSpec] = {
    spec.kind: spec
    for spec in (
        TableSpec(
            "voice",
            "pwr_raw.discord_voice_events",
            (
                "discord_guild_id",
                "discord_user_id",
                "discord_channel_id",
                "event_type",
                "event_ts",
                "raw_payload",
            ),
            ("bigint", "bigint", "bigint", "text", "timestamptz", "jsonb"),
        ),
        TableSpec(
            "rejected",
            "pwr_raw.rejected_voice_events",
            ("source", "source_ref", "raw_text", "reason"),
            ("text", "text", "text", "text"),
        ),
        TableSpec(
            "heartbeat",
            "pwr_raw.collector_heartbeats",
            ("discord_guild_id", "collector_run_id", "heartbeat_ts"),
            ("bigint", "text", "timestamptz"),
        ),
        TableSpec(
            "member",
            "pwr_raw.discord_member_events",
            (
                "discord_guild_id",
                "discord_user_id",
                "event_type",
                "event_ts",
                "username",
                "display_name",
                "joined_at",
                "is_bot",
                "raw_payload",
            ),
            ("bigint", "bigint", "text", "timestamptz", "text", "text", "timestamptz", "boolean", "jsonb"),
        ),
        TableSpec(
            "scheduled_event",
            "pwr_raw.discord_scheduled_events",
            (
                "discord_guild_id",
                "discord_event_id",
                "observed_ts",
                "status",
                "name",
                "description",
                "event_type",
                "scheduled_start_ts",
                "scheduled_end_ts",
                "discord_channel_id",
                "creator_discord_user_id",
                "raw_payload",
            ),
            (
                "bigint",
                "bigint",
                "timestamptz",
                "text",
                "text",
                "text",
                "text",
                "timestamptz",
                "timestamptz",
                "bigint",
                "bigint",
                "jsonb",
            ),
        ),
    )
}


class WarehouseUnavailable(RuntimeError):
    """PostgreSQL cannot be reached and there is no spool to fall back to."""


@dataclass
class WriteStats:
    """What the writer did, per kind of record (``voice``, ``rejected``, ...)."""

    received: Counter = field(default_factory=Counter)
    inserted: Counter = field(default_factory=Counter)
    duplicates: Counter = field(default_factory=Counter)
    refused_by_db: int = 0  # rows the database refused for their content (voice → quarantine)
    spooled: int = 0  # records that went through the spool
    replayed: int = 0  # spooled records later committed


class Writer:
    """Synchronous batch writer with a spool fallback. One thread uses it at a time."""

    def __init__(
        self,
        url: str,
        *,
        spool: Spool | None = None,
        batch_size: int = 10_000,
        retry_interval: float = 2.0,
        max_retry_interval: float = 60.0,
        connect_timeout: int = 5,
    ) -> None:
        self.url = url
        self.spool = spool
        self.batch_size = batch_size
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self.connect_timeout = connect_timeout
        self.stats = WriteStats()
        self._conn: psycopg.Connection | None = None
        self._buffer: list[Record] = []
        self._backoff = retry_interval
        self._next_retry = 0.0
        self.last_error: str | None = None

    # -- connection -------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(
                self.url, connect_timeout=self.connect_timeout, application_name="pwr-ingest-writer"
            )
            with conn.cursor() as cur:
                for spec in TABLES.values():
                    cur.execute(spec.create_stage_sql)
            conn.commit()
            self._conn = conn
        return self._conn

    def _drop_connection(self, exc: BaseException) -> None:
        self.last_error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self._conn is not None:
            with contextlib.suppress(Exception):  # the connection is already broken
                self._conn.close()
        self._conn = None

    def check_connection(self) -> None:
        """Connect now (raises psycopg.OperationalError with libpq's reason when it cannot)."""
        self._connection()

    # -- buffering ------------------------------------------------------------------------------
    def add(self, record: Record) -> None:
        self._buffer.append(record)
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def add_many(self, records: Iterable[Record]) -> None:
        it = iter(records)
        while chunk := list(islice(it, self.batch_size - len(self._buffer))):
            self._buffer.extend(chunk)
            if len(self._buffer) >= self.batch_size:
                self.flush()

    def flush(self) -> None:
        batch, self._buffer = self._buffer, []
        self.write_batch(batch)

    def close(self, drain_timeout: float = 0.0) -> bool:
        """Flush, try to empty the spool for up to ``drain_timeout`` s; True when nothing is left spooled."""
        self.flush()
        deadline = time.monotonic() + drain_timeout
        done = self.drain_spool(force=True)
        while not done and time.monotonic() < deadline:
            time.sleep(min(self._backoff, max(0.1, deadline - time.monotonic())))
            done = self.drain_spool(force=True)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        return done

    # -- writing ----------------------------------------------------------------------------------
    def write_batch(self, batch: list[Record]) -> None:
        """Write one batch now (or spool it durably when PostgreSQL is unreachable)."""
        for record in batch:
            self.stats.received[record.KIND] += 1
        if not batch:
            self.drain_spool()
            return
        if self.spool is not None and self.spool.pending:
            self._spool(batch)
            self.drain_spool()
            return
        try:
            self._insert(batch)
        except CONNECTION_ERRORS as exc:
            self._drop_connection(exc)
            if self.spool is None:
                raise WarehouseUnavailable(f"PostgreSQL unreachable: {self.last_error}") from exc
            log.warning(
                "writer: PostgreSQL unreachable (%s); spooling to %s", self.last_error, self.spool.dir
            )
            self._spool(batch)
            self._next_retry = time.monotonic() + self._backoff

    def _spool(self, batch: list[Record]) -> None:
        assert self.spool is not None
        self.spool.append(batch)
        self.stats.spooled += len(batch)

    def drain_spool(self, force: bool = False) -> bool:
        """Replay spooled segments in order; True when the spool is empty afterwards."""
        spool = self.spool
        if spool is None or not spool.pending:
            return True
        if not force and time.monotonic() < self._next_retry:
            return False
        spool.seal()
        try:
            for segment in spool.segments():
                done = 0
                records = spool.read_segment(segment)
                while chunk := list(islice(records, self.batch_size)):
                    self._insert(chunk)
                    done += len(chunk)
                spool.remove_segment(segment, done)
                self.stats.replayed += done
                log.info(
                    "writer: replayed %d spooled records from %s (%d left)",
                    done,
                    segment.name,
                    spool.pending_records,
                )
        except CONNECTION_ERRORS as exc:
            self._drop_connection(exc)
            self._next_retry = time.monotonic() + self._backoff
            log.warning(
                "writer: PostgreSQL still unreachable (%s); %d records / %d bytes spooled, retry in %.1fs",
                self.last_error,
                spool.pending_records,
                spool.pending_bytes,
                self._backoff,
            )
            self._backoff = min(self._backoff * 2, self.max_retry_interval)
            return False
        self._backoff = self.retry_interval
        return True

    def _insert(self, batch: list[Record]) -> None:
        groups: dict[str, list[Record]] = defaultdict(list)
        for record in batch:
            groups[record.KIND].append(record)
        conn = self._connection()
        try:
            counts = self._insert_groups(conn, groups)
        except CONTENT_ERRORS as exc:
            conn.rollback()
            log.warning("writer: a batch was refused (%s); retrying it row by row", exc)
            counts = self._insert_row_by_row(conn, groups)
        for kind, (total, inserted) in counts.items():
            self.stats.inserted[kind] += inserted
            self.stats.duplicates[kind] += total - inserted

    @staticmethod
    def _insert_groups(
        conn: psycopg.Connection, groups: dict[str, list[Record]]
    ) -> dict[str, tuple[int, int]]:
        counts = {}
        with conn.transaction(), conn.cursor() as cur:
            for kind, records in groups.items():
                spec = TABLES[kind]
                with cur.copy(spec.copy_sql) as copy:
                    write_row = copy.write_row
                    for i, record in enumerate(records):
                        write_row((i, *record.row()))
                cur.execute(spec.insert_sql)
                counts[kind] = (len(records), cur.rowcount)
        return counts

    def _insert_row_by_row(
        self, conn: psycopg.Connection, groups: dict[str, list[Record]]
    ) -> dict[str, tuple[int, int]]:
        counts: dict[str, tuple[int, int]] = {}
        refused: list[RejectedRecord] = []
        with conn.transaction(), conn.cursor() as cur:
            for kind, records in groups.items():
                spec = TABLES[kind]
                inserted = 0
                for record in records:
                    try:
                        with conn.transaction():
                            cur.execute(spec.insert_one_sql, record.row())
                            inserted += cur.rowcount
                    except CONTENT_ERRORS as exc:
                        self.stats.refused_by_db += 1
                        reason = f"refused by PostgreSQL: {str(exc).strip().splitlines()[0]}"
                        log.error("writer: %s record refused: %s", kind, reason)
                        if isinstance(record, VoiceRecord):
                            refused.append(rejected("writer", None, record.payload, reason))
                counts[kind] = (len(records), inserted)
            spec = TABLES["rejected"]
            for record in refused:
                cur.execute(spec.insert_one_sql, record.row())
        return counts


class BackgroundWriter:
    """Runs a :class:`Writer` in a worker thread so parsing and PostgreSQL work overlap.

    ``add`` buffers in the caller's thread; full batches go through a small bounded queue (so
    memory stays constant) to the worker, which owns the connection and the spool.
    """

    def __init__(self, writer: Writer, depth: int = 2) -> None:
        self.writer = writer
        self._queue: queue.Queue[list[Record] | None] = queue.Queue(maxsize=depth)
        self._buffer: list[Record] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="pwr-writer", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> WriteStats:
        return self.writer.stats

    def _work(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                if self._error is None:
                    self.writer.write_batch(batch)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self._error = exc
            finally:
                self._queue.task_done()

    def _raise_pending(self) -> None:
        if self._error is not None:
            raise self._error

    def add(self, record: Record) -> None:
        self._buffer.append(record)
        if len(self._buffer) >= self.writer.batch_size:
            self.flush()

    def flush(self) -> None:
        self._raise_pending()
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self._queue.put(batch)

    def sync(self) -> None:
        """Wait until every record added so far is written (or spooled)."""
        self.flush()
        self._queue.join()
        self._raise_pending()

    def close(self, drain_timeout: float = 0.0) -> bool:
        self.flush()
        self._queue.put(None)
        self._thread.join()
        self._raise_pending()
        return self.writer.close(drain_timeout)


class QueueWriter:
    """The bot's side of the writer: handlers ``put`` records on an asyncio queue; :meth:`run`
    flushes them in batches (at most ``flush_interval`` s old) through a :class:`Writer` in a
    worker thread, so a slow or unreachable database never blocks the gateway connection.

    It logs its lag (age of the oldest record in the last batch), queue depth and spool size
    every ``status_interval`` seconds, and right away whenever records are being spooled.
    """

    def __init__(
        self,
        writer: Writer,
        *,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        status_interval: float = 60.0,
    ) -> None:
        self.writer = writer
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.status_interval = status_interval
        self.queue: asyncio.Queue[tuple[float, Record]] = asyncio.Queue()
        self.last_lag = 0.0
        self.written = 0
        self._last_status = time.monotonic()
        # The writer call running in a worker thread. Cancelling run() does not stop a thread, so
        # close() waits for it: the Writer (one connection, one spool) is never used concurrently.
        self._inflight: asyncio.Future | None = None
        self._stopping = False

    def put(self, record: Record) -> None:
        self.queue.put_nowait((time.monotonic(), record))

    def put_many(self, records: Iterable[Record]) -> None:
        for record in records:
            self.put(record)

    async def _next_batch(self) -> list[tuple[float, Record]]:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation.
        async with asyncio.timeout(self.writer.retry_interval):
            first = await self.queue.get()
        batch = [first]
        deadline = time.monotonic() + self.flush_interval
        while len(batch) < self.batch_size:
            try:
                batch.append(self.queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    batch.append(await self.queue.get())
            except TimeoutError:
                break
        return batch

    def request_stop(self) -> None:
        """Ask :meth:`run` to return after the batch in hand (then call :meth:`close`)."""
        self._stopping = True

    async def run(self) -> None:
        """Flush until :meth:`request_stop` (or cancellation); then call :meth:`close`."""
        while not self._stopping:
            try:
                batch = await self._next_batch()
            except TimeoutError:
                # Idle: still retry a pending spool so it drains without new traffic.
                if self.writer.spool is not None and self.writer.spool.pending:
                    await self._in_thread(self.writer.drain_spool)
                self._maybe_log_status()
                continue
            await self._write(batch)

    async def _write(self, batch: list[tuple[float, Record]]) -> None:
        spooled_before = self.writer.stats.spooled
        await self._in_thread(self.writer.write_batch, [record for _, record in batch])
        self.last_lag = time.monotonic() - batch[0][0]
        self.written += len(batch)
        self._maybe_log_status(force=self.writer.stats.spooled != spooled_before)

    async def _in_thread(self, fn, *args):
        self._inflight = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        return await asyncio.shield(self._inflight)

    def _maybe_log_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status < self.status_interval:
            return
        self._last_status = now
        spool = self.writer.spool
        log.info(
            "writer: %d records handled, lag %.2fs, queue %d, spool %d records / %d bytes%s",
            self.written,
            self.last_lag,
            self.queue.qsize(),
            spool.pending_records if spool else 0,
            spool.pending_bytes if spool else 0,
            f" (PostgreSQL unreachable: {self.writer.last_error})" if spool and spool.pending else "",
        )

    async def close(self) -> None:
        """Write whatever is still queued (to PostgreSQL or the spool); call after cancelling run()."""
        if self._inflight is not None and not self._inflight.done():
            await asyncio.gather(self._inflight, return_exceptions=True)
        while not self.queue.empty():
            batch = []
            while not self.queue.empty() and len(batch) < self.batch_size:
                batch.append(self.queue.get_nowait())
            await self._write(batch)
