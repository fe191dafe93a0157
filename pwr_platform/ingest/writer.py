"""The one writer every ingestion path uses: batches of records → ``pwr_raw`` tables, idempotently.

A batch is written in ONE transaction: for each kind of record, ``COPY`` into a session-local
staging table, then ``INSERT … SELECT … ON CONFLICT DO NOTHING`` into the raw table, whose unique
natural key makes every replay (a re-run file, a replayed spool, a reconnect snapshot) a no-op.
Within a batch rows go in input order, so of two copies of one natural key the first stored wins.

When a batch cannot be committed for any reason but its content (PostgreSQL unreachable, a
statement or lock timeout, a read-only or failed-over database, a missing permission or table,
a bug) the batch goes to the durable :class:`~pwr_platform.ingest.spool.Spool` instead, and so
does every later batch until the spool has been replayed, so rows reach the table in the order
they arrived. Replays are retried with a capped backoff. The writer remembers since when it has
been failing and why (:attr:`Writer.failure`), so the bot can give up loudly on an error that
persists. Without a spool (benchmarks, tests) the error propagates.

A hung database is a down database: every connection sets ``statement_timeout`` and
``lock_timeout`` and uses TCP keepalives and ``tcp_user_timeout`` (:class:`SessionLimits`), so a
write stuck behind a lock or a dead peer fails within bounded time and is spooled.

A batch the database refuses for its *content* (not its connection) is retried row by row: rows
that still fail go to quarantine (``pwr_raw.rejected_voice_events``) with the database's reason,
whatever their kind; nothing blocks the queue. A quarantine row PostgreSQL refuses as well goes
to ``quarantine.jsonl`` beside the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import psycopg

from pwr_platform.ingest.records import Record, RejectedRecord, VoiceRecord, rejected
from pwr_platform.ingest.spool import Spool, SpoolWriteFailed
from pwr_platform.ingest.writer_status import WriterStatus, write_status
from pwr_platform.warehouse.server_errors import shortage

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
        TableSpec(
            "channel",
            "pwr_raw.discord_channel_events",
            (
                "discord_guild_id",
                "discord_channel_id",
                "event_type",
                "event_ts",
                "channel_name",
                "raw_payload",
            ),
            ("bigint", "bigint", "text", "timestamptz", "text", "jsonb"),
        ),
        TableSpec(
            "event_command",
            "pwr_raw.discord_event_commands",
            (
                "discord_guild_id",
                "interaction_id",
                "action",
                "external_event_id",
                "recorded_ts",
                "name",
                "event_type",
                "channel_ids",
                "organizer_discord_user_id",
                "raw_payload",
            ),
            (
                "bigint",
                "bigint",
                "text",
                "text",
                "timestamptz",
                "text",
                "text",
                "bigint[]",
                "bigint",
                "jsonb",
            ),
        ),
    )
}


class WarehouseUnavailable(RuntimeError):
    """PostgreSQL cannot be reached and there is no spool to fall back to."""


class WriterFailed(RuntimeError):
    """The writer could not store records for longer than it may; the process should exit."""


@dataclass(frozen=True)
class SessionLimits:
    """Bounds on every writer connection, so a hung server or a held lock fails instead of hanging.

    Seconds; 0 leaves a limit off. ``statement_timeout`` and ``lock_timeout`` are server settings
    of the session; keepalives and ``tcp_user_timeout`` are libpq's, and notice a peer that
    vanished (no RST: a dead host, a dropped route) within about their sum.
    """

    statement_timeout: float = 60.0
    lock_timeout: float = 10.0
    tcp_user_timeout: float = 30.0
    keepalives_idle: int = 10
    keepalives_interval: int = 5
    keepalives_count: int = 3

    def connect_kwargs(self) -> dict:
        return {
            "keepalives": 1,
            "keepalives_idle": self.keepalives_idle,
            "keepalives_interval": self.keepalives_interval,
            "keepalives_count": self.keepalives_count,
            "tcp_user_timeout": int(self.tcp_user_timeout * 1000),
        }

    def session_settings(self) -> dict[str, str]:
        return {
            "statement_timeout": str(int(self.statement_timeout * 1000)),
            "lock_timeout": str(int(self.lock_timeout * 1000)),
        }


@dataclass(frozen=True)
class Failure:
    """Why the writer cannot commit, since when (monotonic) and the first line of the error."""

    kind: (
        # "unreachable" (connection, timeout), "short of resources" (the server is up but its disk
        # is full, its memory or connections run out: waited for like an outage), "refused" (any
        # other error), "spool" (spool append failed)
        str
    )
    since: float
    error: str

    @property
    def persists(self) -> bool:
        """Retrying alone will not cure it: an unreachable server is waited for (the spool
        holds), but a refusal or a failing spool makes a long-running process give up."""
        return self.kind in ("refused", "spool")


def failure_kind(exc: BaseException) -> str:
    """The :class:`Failure` kind of a write that raised ``exc`` (the spool's own failures aside)."""
    if shortage(exc):
        return "short of resources"
    return "unreachable" if isinstance(exc, CONNECTION_ERRORS) else "refused"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


@dataclass
class WriteStats:
    """What the writer did, per kind of record (``voice``, ``rejected``, ...)."""

    received: Counter = field(default_factory=Counter)
    inserted: Counter = field(default_factory=Counter)
    duplicates: Counter = field(default_factory=Counter)
    refused_by_db: int = 0  # rows the database refused for their content (→ quarantine)
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
        limits: SessionLimits | None = None,
    ) -> None:
        self.url = url
        self.spool = spool
        self.batch_size = batch_size
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self.connect_timeout = connect_timeout
        self.limits = limits or SessionLimits()
        self.stats = WriteStats()
        self._conn: psycopg.Connection | None = None
        self._buffer: list[Record] = []
        self._backoff = retry_interval
        self._next_retry = 0.0
        self.last_error: str | None = None
        self.failure: Failure | None = None
        self.last_commit: datetime | None = None

    # -- connection -------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(
                self.url,
                connect_timeout=self.connect_timeout,
                application_name="pwr-ingest-writer",
                **self.limits.connect_kwargs(),
            )
            try:
                with conn.cursor() as cur:
                    for name, value in self.limits.session_settings().items():
                        cur.execute("SELECT set_config(%s, %s, false)", (name, value))
                    for spec in TABLES.values():
                        cur.execute(spec.create_stage_sql)
                conn.commit()
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _drop_connection(self, exc: BaseException) -> None:
        self.last_error = first_line(exc)
        if self._conn is not None:
            with contextlib.suppress(Exception):  # the connection is already broken
                self._conn.close()
        self._conn = None

    def _failed(self, exc: BaseException, kind: str | None = None) -> None:
        """Remember a failure and push the next retry back (capped exponential backoff)."""
        self._drop_connection(exc)
        kind = kind or failure_kind(exc)
        failure = Failure(kind, time.monotonic(), self.last_error or "")
        if self.failure and self.failure.persists == failure.persists:
            # Same class of failure: it has lasted since the first. An outage turning into a
            # refusal starts the give-up clock afresh.
            failure = Failure(kind, self.failure.since, failure.error)
        self.failure = failure
        self._next_retry = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.max_retry_interval)

    @property
    def retry_delay(self) -> float:
        """Seconds until the next retry is due (the current backoff)."""
        return max(0.0, self._next_retry - time.monotonic()) or self._backoff

    def _committed(self) -> None:
        self.failure = None
        self._backoff = self.retry_interval
        self.last_commit = datetime.now(UTC)

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
        """Write one batch now, or spool it durably when it cannot be committed.

        Raises only when the batch is neither committed nor spooled (no spool, or the spool
        append failed too): the caller still holds the batch.
        """
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
        except Exception as exc:
            if self.spool is None:
                self._drop_connection(exc)
                if short := shortage(exc):
                    raise WarehouseUnavailable(f"{short} ({self.last_error})") from exc
                if isinstance(exc, CONNECTION_ERRORS):
                    raise WarehouseUnavailable(f"PostgreSQL unreachable: {self.last_error}") from exc
                raise
            self._failed(exc)
            log.warning(
                "writer: batch not committed (%s: %s); spooling to %s",
                self.failure.kind if self.failure else "failed",
                self.last_error,
                self.spool.dir,
            )
            self._spool(batch)
        else:
            self._committed()

    def _spool(self, batch: list[Record]) -> None:
        assert self.spool is not None
        try:
            self.spool.append(batch)
        except SpoolWriteFailed as exc:
            self._failed(exc, "spool")
            raise
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
            for segment in spool.sealed_segments():
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
        except Exception as exc:
            self._failed(exc)
            log.warning(
                "writer: spool not replayed (%s: %s); %d records / %d bytes spooled, retry in %.1fs",
                self.failure.kind if self.failure else "failed",
                self.last_error,
                spool.pending_records,
                spool.pending_bytes,
                self._next_retry - time.monotonic(),
            )
            return False
        self._committed()
        return not spool.pending

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
                        if isinstance(record, RejectedRecord):
                            self._quarantine_to_file(record, reason)
                        else:
                            refused.append(quarantine_record(record, reason))
                counts[kind] = (len(records), inserted)
            spec = TABLES["rejected"]
            for record in refused:
                try:
                    with conn.transaction():
                        cur.execute(spec.insert_one_sql, record.row())
                except CONTENT_ERRORS as exc:
                    self._quarantine_to_file(record, f"quarantine refused by PostgreSQL: {first_line(exc)}")
        return counts

    def _quarantine_to_file(self, record: RejectedRecord, reason: str) -> None:
        """Last resort for a quarantine row PostgreSQL refuses: a 0600 JSON-lines file beside the spool."""
        entry = {"at": datetime.now(UTC).isoformat(), **record_fields(record), "refused": reason}
        if self.spool is None:
            log.error("writer: quarantine row refused and no spool directory to keep it: %s", entry)
            return
        path = self.spool.root / "quarantine.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        log.error("writer: quarantine row refused by PostgreSQL; kept in %s", path)


def record_fields(record: RejectedRecord) -> dict:
    return {
        "source": record.source,
        "source_ref": record.source_ref,
        "raw_text": record.raw_text,
        "reason": record.reason,
    }


def quarantine_record(record: Record, reason: str) -> RejectedRecord:
    """The quarantine row for a record PostgreSQL refused: voice keeps its payload, other kinds
    their spool form (``[kind, *fields]``), so nothing is lost and a fix can replay it."""
    if isinstance(record, VoiceRecord):
        return rejected("writer", None, record.payload, reason)
    text = json.dumps([record.KIND, *record.to_spool()])
    return rejected("writer", record.KIND, text, f"{record.KIND} record {reason}")


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
    """The bot's side of the writer: handlers ``put`` records on a bounded asyncio queue; :meth:`run`
    flushes them in batches (at most ``flush_interval`` s old) through a :class:`Writer` in a
    worker thread, so a slow or unreachable database never blocks the gateway connection.

    Memory stays bounded whatever the database does: when the queue is full (the writer is stuck
    on a hung server), records overflow to the spool, appended by the event loop in one fsynced
    write per loop turn. A batch that neither PostgreSQL nor the spool takes is held and retried;
    :meth:`run` raises :class:`WriterFailed` once the writer has failed for a reason retrying will
    not cure (:attr:`Failure.persists`) for longer than ``give_up_after`` seconds, or a record had
    nowhere to go, so the process exits non-zero and its supervisor restarts it.

    It logs its lag (age of the oldest record in the last batch), queue depth and spool size
    every ``status_interval`` seconds, right away whenever records are being spooled, and keeps
    ``status_file`` (see :mod:`writer_status`) current for the health check.
    """

    def __init__(
        self,
        writer: Writer,
        *,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        status_interval: float = 60.0,
        max_queue: int = 10_000,
        give_up_after: float = 300.0,
        status_file: Path | None = None,
    ) -> None:
        self.writer = writer
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.status_interval = status_interval
        self.give_up_after = give_up_after
        self.status_file = status_file
        self.queue: asyncio.Queue[tuple[float, Record]] = asyncio.Queue(maxsize=max_queue)
        self.last_lag = 0.0
        self.written = 0
        self.overflowed = 0
        self.started_at = datetime.now(UTC)
        self._last_status = time.monotonic()
        # Records overflowing the queue, appended to the spool once per event-loop turn.
        self._overflow: list[tuple[float, Record]] = []
        # A batch that neither PostgreSQL nor the spool took; retried before anything new.
        self._held: list[tuple[float, Record]] = []
        self._fatal: str | None = None
        # The writer call running in a worker thread. The Writer (one connection, one spool) is
        # never used by two threads at once: close() waits for it.
        self._inflight: asyncio.Future | None = None
        self._stop = asyncio.Event()

    # -- the handlers' side ------------------------------------------------------------------------
    def put(self, record: Record) -> None:
        item = (time.monotonic(), record)
        if not self._overflow:
            try:
                self.queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                asyncio.get_running_loop().call_soon(self._flush_overflow)
        self._overflow.append(item)

    def put_many(self, records: Iterable[Record]) -> None:
        for record in records:
            self.put(record)

    def _flush_overflow(self) -> None:
        items, self._overflow = self._overflow, []
        if not items:
            return
        spool = self.writer.spool
        if spool is not None:
            try:
                spool.append([record for _, record in items])
                self.overflowed += len(items)
                log.warning(
                    "writer: queue full (%d); %d records overflowed to the spool",
                    self.queue.maxsize,
                    len(items),
                )
                return
            except SpoolWriteFailed as exc:
                error = str(exc)
        else:
            error = "no spool"
        self._held.extend(items)
        self._fatal = f"queue full and the spool cannot take records ({error})"
        log.critical("writer: %s; %d records held in memory", self._fatal, len(self._held))

    # -- the writer loop ---------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask :meth:`run` to return after the batch in hand (then call :meth:`close`)."""
        self._stop.set()

    async def _get(self, timeout: float) -> tuple[float, Record] | None:
        """The next queued item, or None after ``timeout`` s or when asked to stop."""
        with contextlib.suppress(asyncio.QueueEmpty):
            return self.queue.get_nowait()
        if self._stop.is_set():
            return None
        getter = asyncio.ensure_future(self.queue.get())
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({getter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not getter.done():
                getter.cancel()  # a cancelled Queue.get leaves its item in the queue
        return getter.result() if getter.done() and not getter.cancelled() else None

    async def _next_batch(self) -> list[tuple[float, Record]]:
        first = await self._get(self.writer.retry_interval)
        if first is None:
            return []
        batch = [first]
        deadline = time.monotonic() + self.flush_interval
        while len(batch) < self.batch_size:
            item = await self._get(max(0.0, deadline - time.monotonic()))
            if item is None:
                break
            batch.append(item)
        return batch

    async def run(self) -> None:
        """Flush until :meth:`request_stop`; then call :meth:`close`. Raises :class:`WriterFailed`."""
        while not self._stop.is_set():
            self._check_failure()
            if self._held:
                batch, self._held = self._held, []
                await self._write(batch)
                continue
            batch = await self._next_batch()
            if batch:
                await self._write(batch)
            elif self.writer.spool is not None and self.writer.spool.pending:
                # Idle: still retry a pending spool so it drains without new traffic.
                await self._in_thread(self.writer.drain_spool)
            self._maybe_log_status()

    def _check_failure(self) -> None:
        failure = self.writer.failure
        if self._fatal:
            raise WriterFailed(self._fatal)
        if failure and failure.persists:
            failing_for = time.monotonic() - failure.since
            if failing_for > self.give_up_after:
                raise WriterFailed(
                    f"the writer has failed for {failing_for:.0f}s ({failure.kind}: {failure.error})"
                )

    async def _write(self, batch: list[tuple[float, Record]]) -> bool:
        """Commit or spool one batch; on failure hold it for the next turn (after a backoff)."""
        spooled_before = self.writer.stats.spooled
        try:
            await self._in_thread(self.writer.write_batch, [record for _, record in batch])
        except Exception as exc:
            self._held = batch + self._held
            log.error(
                "writer: %d records neither committed nor spooled (%s); held, retrying",
                len(batch),
                first_line(exc),
            )
            self._maybe_log_status(force=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(self.writer.retry_delay, self.give_up_after)):
                    await self._stop.wait()
            return False
        self.last_lag = time.monotonic() - batch[0][0]
        self.written += len(batch)
        self._maybe_log_status(force=self.writer.stats.spooled != spooled_before)
        return True

    async def _in_thread(self, fn, *args):
        self._inflight = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        return await asyncio.shield(self._inflight)

    def status(self) -> WriterStatus:
        failure = self.writer.failure
        spool = self.writer.spool
        return WriterStatus(
            pid=os.getpid(),
            updated_at=datetime.now(UTC),
            started_at=self.started_at,
            last_commit_at=self.writer.last_commit,
            lag_seconds=round(self.last_lag, 3),
            queued=self.queue.qsize(),
            held=len(self._held) + len(self._overflow),
            spooled_pending=spool.pending_records if spool else 0,
            failure=f"{failure.kind}: {failure.error}" if failure else None,
            failing_for_seconds=round(time.monotonic() - failure.since, 1) if failure else None,
        )

    def _maybe_log_status(self, force: bool = False) -> None:
        if self.status_file is not None:
            write_status(self.status_file, self.status())
        now = time.monotonic()
        if not force and now - self._last_status < self.status_interval:
            return
        self._last_status = now
        spool = self.writer.spool
        failure = self.writer.failure
        log.info(
            "writer: %d records handled, lag %.2fs, queue %d, spool %d records / %d bytes%s",
            self.written,
            self.last_lag,
            self.queue.qsize(),
            spool.pending_records if spool else 0,
            spool.pending_bytes if spool else 0,
            f" (failing: {failure.kind}: {failure.error})" if failure else "",
        )

    async def close(self) -> int:
        """Write everything still held or queued to PostgreSQL or the spool; call after run().

        Returns how many records could be stored nowhere (logged loudly; 0 unless both
        PostgreSQL and the spool refused them).
        """
        if self._inflight is not None and not self._inflight.done():
            await asyncio.gather(self._inflight, return_exceptions=True)
        self._flush_overflow()
        pending = self._held
        self._held = []
        while not self.queue.empty():
            pending.append(self.queue.get_nowait())
        lost = 0
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            try:
                await self._in_thread(self.writer.write_batch, [record for _, record in batch])
                self.written += len(batch)
            except Exception as exc:
                lost += len(batch)
                log.critical(
                    "writer: %d records LOST at shutdown: neither PostgreSQL nor the spool took them (%s)",
                    len(batch),
                    first_line(exc),
                )
        if self.status_file is not None:
            write_status(self.status_file, self.status())
        return lost
