"""Which raw rows are new since a transform's previous run — in a way that cannot skip rows.

Ids and ``ingested_at`` are handed out before commit, so with several writers a row with a
smaller id can commit after a larger one was already processed. Instead every raw table records
its inserting transaction (``ingest_xid``), and each incremental run stores the PostgreSQL
snapshot it read (``pg_current_snapshot()``) in ``pwr_core.transform_watermarks``. The next run
reads exactly the rows that snapshot could not see: ``ingest_xid >= xmax`` or ``ingest_xid`` in
its list of then-running transactions (two index lookups). The run itself is one REPEATABLE READ
transaction, so what it reads and the snapshot it stores are the same.

Transaction ids belong to one PostgreSQL cluster. After a restore into a freshly initialised
server (or a move to managed PostgreSQL) a stored snapshot describes another cluster's counter:
new rows would look "already seen" and the transforms would freeze without an error. So each
watermark also records the cluster's system identifier, and one from another cluster or whose
xmax is ahead of the current snapshot's is not used: the run rebuilds in full and logs why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg

# A snapshot that sees no transaction at all: "everything is new".
EMPTY_SNAPSHOT = "1:1:"

SERIALIZATION_ATTEMPTS = 3
T = TypeVar("T")


CLUSTER_IDENTIFIER = "(SELECT system_identifier FROM pg_control_system())"


@dataclass(frozen=True)
class Watermark:
    snapshot: str
    parameters: dict


def snapshot_xmax(snapshot: str) -> int:
    """The xmax of a ``pg_snapshot`` in its text form ``xmin:xmax:xip,…``."""
    return int(snapshot.split(":")[1])


def foreign_reason(
    stored_snapshot: str, stored_cluster: int | str | None, current_snapshot: str, current_cluster: int | str
) -> str | None:
    """Why a stored snapshot cannot be compared with this cluster's transaction ids (None: it can)."""
    if stored_cluster is not None and str(stored_cluster) != str(current_cluster):
        return f"it was taken on another PostgreSQL cluster (system identifier {stored_cluster}, this is {current_cluster})"
    if snapshot_xmax(stored_snapshot) > snapshot_xmax(current_snapshot):
        return (
            f"its transaction ids are ahead of this server's (xmax {snapshot_xmax(stored_snapshot)} > "
            f"{snapshot_xmax(current_snapshot)}): restored from another cluster"
        )
    return None


def begin_incremental(
    conn: psycopg.Connection, transform_name: str, lock_table: str, log=None
) -> Watermark | None:
    """Start the run's transaction: lock ``lock_table`` against a concurrent run of the same
    transform (LOCK TABLE takes no snapshot, so the snapshot that follows sees the other run's
    commit), then read the stored watermark. None on the first run, and for a watermark from
    another cluster or from the future (logged): both mean "rebuild in full"."""
    conn.execute(f"LOCK TABLE {lock_table} IN SHARE ROW EXCLUSIVE MODE")
    row = conn.execute(
        f"SELECT read_snapshot::text, parameters, system_identifier, pg_current_snapshot()::text, "
        f"{CLUSTER_IDENTIFIER} FROM pwr_core.transform_watermarks WHERE transform_name = %s",
        (transform_name,),
    ).fetchone()
    if row is None:
        return None
    snapshot, params, cluster, current_snapshot, current_cluster = row
    reason = foreign_reason(snapshot, cluster, current_snapshot, current_cluster)
    if reason:
        if log:
            log(f"{transform_name}: full rebuild because the stored watermark is unusable: {reason}")
        return None
    return Watermark(snapshot, params)


def store(conn: psycopg.Connection, transform_name: str, parameters: dict) -> str:
    """Record this transaction's snapshot as the transform's watermark; returns it."""
    row = conn.execute(
        f"""
        INSERT INTO pwr_core.transform_watermarks
            (transform_name, read_snapshot, parameters, updated_at, system_identifier)
        VALUES (%s, pg_current_snapshot(), %s::jsonb, now(), {CLUSTER_IDENTIFIER})
        ON CONFLICT (transform_name) DO UPDATE
            SET read_snapshot = excluded.read_snapshot, parameters = excluded.parameters,
                updated_at = excluded.updated_at, system_identifier = excluded.system_identifier
        RETURNING read_snapshot::text
        """,
        (transform_name, json.dumps(parameters, sort_keys=True)),
    ).fetchone()
    return row[0]


def reset(conn: psycopg.Connection, transform_name: str) -> None:
    """Forget the watermark: the next run of the transform is a full rebuild."""
    conn.execute("DELETE FROM pwr_core.transform_watermarks WHERE transform_name = %s", (transform_name,))


def with_serialization_retries(
    run_once: Callable[[], T], log=None, attempts: int = SERIALIZATION_ATTEMPTS
) -> T:
    """``run_once()`` — one incremental run in its own REPEATABLE READ transaction — again after a
    serialization failure (a concurrent commit touched what it read), up to ``attempts`` times:
    each attempt starts from the stored watermark, so a retry reads what the failed one would have."""
    for attempt in range(1, attempts + 1):
        try:
            return run_once()
        except psycopg.errors.SerializationFailure:
            if attempt == attempts:
                raise
            if log:
                log(f"serialization failure (attempt {attempt}); retrying")
    raise AssertionError("unreachable")
