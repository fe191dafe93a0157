"""``pwr_core.members``: upserted from raw voice events, member records and event hosts.

Incremental like the sessionizer: the users with raw rows committed since the previous run's
snapshot get every column recomputed from raw (``sql/members.sql``); the first run, or
``full=True``, does every user.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import psycopg

from pwr_platform.transforms import watermark
from pwr_platform.warehouse.sql_runner import sql_statements

TRANSFORM = "members"
TEMP_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS _member_users (discord_user_id BIGINT PRIMARY KEY) ON COMMIT DROP"
)


@dataclass
class MembersResult:
    mode: str
    users_considered: int
    members_written: int
    members_total: int
    read_snapshot: str
    seconds: float

    def as_metadata(self) -> dict:
        return asdict(self)


def refresh_members(conn: psycopg.Connection, *, full: bool = False, log=None) -> MembersResult:
    """Upsert the members whose raw inputs changed since the last run (all of them when ``full``)."""
    return watermark.with_serialization_retries(lambda: _run_once(conn, full=full, log=log), log)


def _run_once(conn: psycopg.Connection, *, full: bool, log) -> MembersResult:
    started = time.perf_counter()
    stmts = sql_statements("members")
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with conn.transaction():
        previous = watermark.begin_incremental(conn, TRANSFORM, "pwr_core.members", log)
        full = full or previous is None
        conn.execute("SET LOCAL jit = off")
        conn.execute(TEMP_TABLE)
        if full:
            considered = conn.execute(stmts["all_member_users"]).rowcount
        else:
            considered = conn.execute(stmts["new_member_users"], {"prev": previous.snapshot}).rowcount
        conn.execute("ANALYZE _member_users")  # real row count for the planner (see sessionizer)
        written = conn.execute(stmts["upsert_members"]).rowcount
        total = conn.execute("SELECT count(*) FROM pwr_core.members").fetchone()[0]
        snapshot = watermark.store(conn, TRANSFORM, {})
    outcome = MembersResult(
        mode="full" if full else "incremental",
        users_considered=considered,
        members_written=written,
        members_total=total,
        read_snapshot=snapshot,
        seconds=round(time.perf_counter() - started, 3),
    )
    if log:
        log(f"members {outcome.mode}: {considered} users considered, {written} rows written")
    return outcome


def ensure_members(conn: psycopg.Connection, user_ids: Iterable[int]) -> int:
    """Upsert the given users from raw — in a short READ COMMITTED transaction of its own when
    ``conn`` is idle (the sessionizer), else inside the caller's transaction (events) — so another
    transform never has to wait for the members run to see a new user. The members transform
    recomputes them again on its next run; the result is the same."""
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
    with conn.transaction():
        conn.execute(TEMP_TABLE)
        conn.execute("INSERT INTO _member_users SELECT unnest(%s::bigint[]) ON CONFLICT DO NOTHING", (ids,))
        written = conn.execute(sql_statements("members")["upsert_members"]).rowcount
    return written
