"""Which raw rows are new since a transform's previous run — in a way that cannot skip rows.

Ids and ``ingested_at`` are handed out before commit, so with several writers a row with a
smaller id can commit after a larger one was already processed. Instead every raw table records
its inserting transaction (``ingest_xid``), and each incremental run stores the PostgreSQL
snapshot it read (``pg_current_snapshot()``) in ``pwr_core.transform_watermarks``. The next run
reads exactly the rows that snapshot could not see: ``ingest_xid >= xmax`` or ``ingest_xid`` in
its list of then-running transactions (two index lookups). The run itself is one REPEATABLE READ
transaction, so what it reads and the snapshot it stores are the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg

# A snapshot that sees no transaction at all: "everything is new".
EMPTY_SNAPSHOT = "1:1:"


@dataclass(frozen=True)
class Watermark:
    snapshot: str
    parameters: dict


def begin_incremental(conn: psycopg.Connection, transform_name: str, lock_table: str) -> Watermark | None:
    """Start the run's transaction: lock ``lock_table`` against a concurrent run of the same
    transform (LOCK TABLE takes no snapshot, so the snapshot that follows sees the other run's
    commit), then read the stored watermark (None on the first run)."""
    conn.execute(f"LOCK TABLE {lock_table} IN SHARE ROW EXCLUSIVE MODE")
    row = conn.execute(
        "SELECT read_snapshot::text, parameters FROM pwr_core.transform_watermarks WHERE transform_name = %s",
        (transform_name,),
    ).fetchone()
    return Watermark(row[0], row[1]) if row else None


def store(conn: psycopg.Connection, transform_name: str, parameters: dict) -> str:
    """Record this transaction's snapshot as the transform's watermark; returns it."""
    row = conn.execute(
        """
        INSERT INTO pwr_core.transform_watermarks (transform_name, read_snapshot, parameters, updated_at)
        VALUES (%s, pg_current_snapshot(), %s::jsonb, now())
        ON CONFLICT (transform_name) DO UPDATE
            SET read_snapshot = excluded.read_snapshot, parameters = excluded.parameters,
                updated_at = excluded.updated_at
        RETURNING read_snapshot::text
        """,
        (transform_name, json.dumps(parameters, sort_keys=True)),
    ).fetchone()
    return row[0]


def reset(conn: psycopg.Connection, transform_name: str) -> None:
    """Forget the watermark: the next run of the transform is a full rebuild."""
    conn.execute("DELETE FROM pwr_core.transform_watermarks WHERE transform_name = %s", (transform_name,))
