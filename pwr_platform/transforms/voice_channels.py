"""``pwr_core.voice_channels``: each voice channel's newest name, from the collector's payloads
and its channel records (each connect, creation and rename).

Incremental like the members transform: the raw voice rows and channel records committed since
the previous run's snapshot are folded into the stored names (``sql/voice_channels.sql``). A channel's name is the
newest observation by event time, a maximum, so any split of the raw rows into runs gives the
table one rebuild gives. The first run, a watermark from another cluster, or ``full=True``
rebuilds from every raw row.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import psycopg

from pwr_platform.transforms import watermark
from pwr_platform.warehouse.sql_runner import sql_statements

TRANSFORM = "voice_channels"
TABLE = "pwr_core.voice_channels"


@dataclass
class VoiceChannelsResult:
    mode: str
    names_written: int
    labels_changed: int
    channels_total: int
    read_snapshot: str
    seconds: float

    def as_metadata(self) -> dict:
        return asdict(self)


def refresh_voice_channels(conn: psycopg.Connection, *, full: bool = False, log=None) -> VoiceChannelsResult:
    """Fold the raw voice rows and channel records committed since the last run into the channel names."""
    return watermark.with_serialization_retries(lambda: _run_once(conn, full=full, log=log), log)


def _run_once(conn: psycopg.Connection, *, full: bool, log) -> VoiceChannelsResult:
    started = time.perf_counter()
    stmts = sql_statements("voice_channels")
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with conn.transaction():
        previous = watermark.begin_incremental(conn, TRANSFORM, TABLE, log)
        full = full or previous is None
        conn.execute("SET LOCAL jit = off")
        if full:
            conn.execute(stmts["clear"])
        prev = watermark.EMPTY_SNAPSHOT if full else previous.snapshot
        written = conn.execute(stmts["upsert_names"], {"prev": prev}).rowcount
        relabelled = conn.execute(stmts["labels"]).rowcount
        total = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]  # noqa: S608 - a constant
        snapshot = watermark.store(conn, TRANSFORM, {})
    outcome = VoiceChannelsResult(
        mode="full" if full else "incremental",
        names_written=written,
        labels_changed=relabelled,
        channels_total=total,
        read_snapshot=snapshot,
        seconds=round(time.perf_counter() - started, 3),
    )
    if log:
        log(f"voice_channels {outcome.mode}: {written} names written, {total} channels")
    return outcome
