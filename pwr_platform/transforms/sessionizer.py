"""The incremental sessionizer: raw voice events → ``pwr_core.voice_sessions``.

The rules and the set-based SQL are in ``pwr_platform/sql/voice_sessions.sql``; this module
decides full or incremental, runs the statements in one REPEATABLE READ transaction (a killed run
leaves the previous state intact) and reports what it did.

A full rebuild happens on the first run, when the settings the stored sessions were built with
(cap, collector-gap threshold) changed, or on request; otherwise only the users with raw rows
committed since the previous run's snapshot are recomputed, from just before their earliest new
event (rule 5).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import psycopg
from psycopg import sql

from pwr_platform.transforms import members, watermark
from pwr_platform.transforms.sqlfile import sql_statements

TRANSFORM = "voice_sessions"
MAX_ATTEMPTS = 3
# sort memory for rebuilding the indexes after a full load (per index build, inside the run only)
BULK_MAINTENANCE_WORK_MEM = "512MB"
# ids are drawn from the sequence in blocks of this many during a full load (one sequence access
# per block instead of one per row; the unused rest of the last block is skipped)
BULK_SEQUENCE_CACHE = 10_000

TEMP_TABLES = """
CREATE TEMP TABLE _new_voice_events (discord_guild_id BIGINT, discord_user_id BIGINT,
                                     first_new_ts TIMESTAMPTZ, new_rows BIGINT) ON COMMIT DROP;
CREATE TEMP TABLE _gap_regions (discord_guild_id BIGINT, region_lo TIMESTAMPTZ, region_hi TIMESTAMPTZ) ON COMMIT DROP;
CREATE TEMP TABLE _gap_changes (discord_guild_id BIGINT, gap_start_ts TIMESTAMPTZ) ON COMMIT DROP;
CREATE TEMP TABLE _affected (discord_guild_id BIGINT, discord_user_id BIGINT, recompute_from TIMESTAMPTZ,
                             PRIMARY KEY (discord_guild_id, discord_user_id)) ON COMMIT DROP;
CREATE TEMP TABLE _guild_clock (discord_guild_id BIGINT PRIMARY KEY, newest_ts TIMESTAMPTZ, cap INTERVAL) ON COMMIT DROP;
CREATE TEMP TABLE _old_sessions (member_id BIGINT, discord_guild_id BIGINT, discord_channel_id BIGINT,
                                 session_start_ts TIMESTAMPTZ, session_end_ts TIMESTAMPTZ, close_reason TEXT) ON COMMIT DROP;
CREATE TEMP TABLE _new_sessions (LIKE _old_sessions) ON COMMIT DROP;
"""


@dataclass
class SessionizerResult:
    """What one run did (becomes the materialization's metadata)."""

    mode: str  # "full" or "incremental"
    new_raw_users: int
    users_recomputed: int
    sessions_deleted: int
    sessions_written: int
    collector_gaps_changed: int
    sessions_closed_by_timeout_now: int
    ignored_leaves: int
    events_flagged_for_attendance: int
    read_snapshot: str
    seconds: float

    def as_metadata(self) -> dict:
        return asdict(self)


class MissingMembers(Exception):
    def __init__(self, user_ids: list[int]):
        super().__init__(f"{len(user_ids)} users in raw voice events are not in pwr_core.members yet")
        self.user_ids = user_ids


def parameters(max_session_hours: int, collector_gap_minutes: int) -> dict:
    return {"max_session_hours": max_session_hours, "collector_gap_minutes": collector_gap_minutes}


def refresh_voice_sessions(
    conn: psycopg.Connection,
    *,
    max_session_hours: int,
    collector_gap_minutes: int,
    full: bool = False,
    log=None,
) -> SessionizerResult:
    """Bring ``pwr_core.voice_sessions`` up to date with raw (one transaction per attempt).

    ``conn`` must be idle (not inside a transaction). Users not yet in ``pwr_core.members`` are
    added first (in their own small transaction) so a session never lacks its member. A
    serialization failure (a concurrent writer touched the same member rows) is retried.
    """
    params = parameters(max_session_hours, collector_gap_minutes)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _run_once(conn, params, full=full, log=log)
        except MissingMembers as missing:
            if log:
                log(f"adding {len(missing.user_ids)} new users to pwr_core.members first")
            members.ensure_members(conn, missing.user_ids)
        except psycopg.errors.SerializationFailure:
            if attempt == MAX_ATTEMPTS:
                raise
            if log:
                log(f"serialization failure (attempt {attempt}); retrying")
    raise RuntimeError("sessionizer could not complete: members kept appearing during the run")


def _run_once(conn: psycopg.Connection, params: dict, *, full: bool, log) -> SessionizerResult:
    started = time.perf_counter()
    stmts = sql_statements("voice_sessions")
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with conn.transaction():
        previous = watermark.begin_incremental(conn, TRANSFORM, "pwr_core.voice_sessions")
        if previous is None or previous.parameters != params:
            full = True
        conn.execute("SET LOCAL jit = off")
        conn.execute(
            "SELECT set_config('pwr.max_session_hours', %s, true)", (str(params["max_session_hours"]),)
        )
        conn.execute(
            "SELECT set_config('pwr.collector_gap_minutes', %s, true)",
            (str(params["collector_gap_minutes"]),),
        )
        conn.execute(TEMP_TABLES)

        def run(name: str, args: dict | None = None, **fmt: str) -> int:
            sql = stmts[name].format(**fmt) if fmt else stmts[name]
            return conn.execute(sql, args).rowcount

        result = _full(conn, stmts, run) if full else _incremental(conn, stmts, run, previous.snapshot)
        snapshot = watermark.store(conn, TRANSFORM, params)
    result.update(read_snapshot=snapshot, seconds=round(time.perf_counter() - started, 3))
    outcome = SessionizerResult(**result)
    if log:
        log(
            f"voice_sessions {outcome.mode}: {outcome.users_recomputed} users recomputed, "
            f"{outcome.sessions_deleted} sessions replaced by {outcome.sessions_written} in {outcome.seconds}s"
        )
    return outcome


@contextmanager
def bulk_load(conn: psycopg.Connection, schema: str, table: str):
    """Load an emptied table the way PostgreSQL's "Populating a Database" advises: drop its
    indexes (the primary key's too, unless a foreign key elsewhere needs it), its foreign keys and
    its CHECK constraints, load, then restore them: one sort per index, one join per foreign key
    and one scan for all the checks instead of millions of index insertions, trigger calls and
    per-row checks. Rows that break a check still fail the run, when the checks are added back.
    The definitions are read from the catalog, so the migrations stay their only source; all of it
    happens inside the run's transaction, so a failure restores them with everything else. The
    table's id sequence hands out values in blocks meanwhile (its cache setting, restored after)."""
    conn.execute(f"SET LOCAL maintenance_work_mem = '{BULK_MAINTENANCE_WORK_MEM}'")
    qualified_name = f"{schema}.{table}"
    # primary key / unique constraints no foreign key depends on: rebuilt like the indexes
    keys = conn.execute(
        """
        SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
        WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u')
          AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)
        ORDER BY c.contype, c.conname
        """,
        (qualified_name,),
    ).fetchall()
    indexes = conn.execute(
        """
        SELECT format('%%I.%%I', i.schemaname, i.indexname), i.indexdef FROM pg_indexes i
        WHERE i.schemaname = %s AND i.tablename = %s
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                          WHERE c.conindid = format('%%I.%%I', i.schemaname, i.indexname)::regclass)
        ORDER BY 1
        """,
        (schema, table),
    ).fetchall()
    foreign_keys = _constraints(conn, qualified_name, "f")
    checks = _constraints(conn, qualified_name, "c")
    sequences = conn.execute(
        """
        SELECT format('%%I.%%I', n.nspname, c.relname), s.seqcache FROM pg_depend d
        JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S'
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_sequence s ON s.seqrelid = c.oid
        WHERE d.refobjid = %s::regclass AND d.deptype IN ('a', 'i')
        """,
        (qualified_name,),
    ).fetchall()
    qualified = sql.Identifier(schema, table)
    for name, _ in foreign_keys + checks + keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(qualified, sql.Identifier(name)))
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
    for name, _ in sequences:
        conn.execute(
            sql.SQL("ALTER SEQUENCE {} CACHE {}").format(sql.SQL(name), sql.Literal(BULK_SEQUENCE_CACHE))
        )
    yield
    for name, cache in sequences:
        conn.execute(sql.SQL("ALTER SEQUENCE {} CACHE {}").format(sql.SQL(name), sql.Literal(cache)))
    _add_constraints(conn, qualified, checks)
    _add_constraints(conn, qualified, keys)
    for _, definition in indexes:
        conn.execute(definition)
    _add_constraints(conn, qualified, foreign_keys)


def _constraints(conn: psycopg.Connection, qualified_name: str, contype: str) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = %s"
        " ORDER BY conname",
        (qualified_name, contype),
    ).fetchall()


def _add_constraints(conn: psycopg.Connection, qualified: sql.Composable, constraints) -> None:
    """All in one ALTER TABLE: PostgreSQL then checks the rows in one pass (CHECKs, foreign keys)."""
    if constraints:
        conn.execute(
            sql.SQL("ALTER TABLE {} ").format(qualified)
            + sql.SQL(", ").join(
                sql.SQL("ADD CONSTRAINT {} ").format(sql.Identifier(name)) + sql.SQL(definition)
                for name, definition in constraints
            )
        )


def _missing_members(conn: psycopg.Connection, sql: str) -> None:
    missing = [r[0] for r in conn.execute(sql).fetchall()]
    if missing:
        raise MissingMembers(missing)


def _full(conn, stmts, run) -> dict:
    _missing_members(conn, stmts["users_without_member_all"])
    deleted = conn.execute("SELECT count(*) FROM pwr_core.voice_sessions").fetchone()[0]
    conn.execute("TRUNCATE pwr_core.voice_sessions, pwr_core.collector_gaps")
    run("all_heartbeat_regions")
    gaps = run("replace_gaps")
    run("guild_clock_full")
    with bulk_load(conn, "pwr_core", "voice_sessions"):
        written = run("insert_sessions", ordered_events=stmts["ordered_events_full"])
    run("close_at_gaps", {"since": "-infinity"})
    flagged = run("flag_all_completed_events")
    ignored = conn.execute(stmts["ignored_leaves_all"], {"opened": written}).fetchone()[0]
    users = conn.execute(stmts["users_with_sessions_all"]).fetchone()[0]
    return dict(
        mode="full",
        new_raw_users=users,
        users_recomputed=users,
        sessions_deleted=deleted,
        sessions_written=written,
        collector_gaps_changed=gaps,
        sessions_closed_by_timeout_now=0,
        ignored_leaves=ignored,
        events_flagged_for_attendance=flagged,
    )


def _incremental(conn, stmts, run, prev_snapshot: str) -> dict:
    snap = {"prev": prev_snapshot}
    new_users = run("new_voice_events", snap)
    run("new_heartbeat_regions", snap)
    gaps = run("replace_gaps")
    run("affected_users")
    # temp tables have no statistics until analyzed: without them the planner guesses 1,000s of
    # rows and hash-joins whole tables instead of probing the per-user indexes
    conn.execute("ANALYZE _affected")
    _missing_members(conn, stmts["affected_users_without_member"])
    users = conn.execute("SELECT count(*) FROM _affected").fetchone()[0]
    deleted = written = 0
    if users:
        deleted = run("delete_affected_sessions")
        run("guild_clock_incremental")
        written = run("insert_sessions", ordered_events=stmts["ordered_events_incremental"])
        since = conn.execute("SELECT min(recompute_from) FROM _affected").fetchone()[0]
        run("close_at_gaps", {"since": since})
    timed_out = run("close_timed_out")
    run("new_sessions_of_affected")
    flagged = run("flag_events_with_changed_sessions")
    ignored = conn.execute(stmts["ignored_leaves"]).fetchone()[0] if users else 0
    return dict(
        mode="incremental",
        new_raw_users=new_users,
        users_recomputed=users,
        sessions_deleted=deleted,
        sessions_written=written,
        collector_gaps_changed=gaps,
        sessions_closed_by_timeout_now=timed_out,
        ignored_leaves=ignored,
        events_flagged_for_attendance=flagged,
    )
