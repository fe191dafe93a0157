"""The incremental sessionizer: raw voice events → ``pwr_core.voice_sessions``.

The rules and the set-based SQL are in ``pwr_platform/sql/voice_sessions.sql``; this module
decides full or incremental, runs the statements in one REPEATABLE READ transaction (a killed run
leaves the previous state intact) and reports what it did.

A full rebuild happens on the first run, when the settings the stored sessions were built with
(cap, collector-gap threshold) changed, or on request; otherwise only the users with raw rows
committed since the previous run's snapshot are recomputed, from just before their earliest new
event (rule 5). A full rebuild builds the new sessions in up to ``rebuild_connections`` further
connections at once (session_rebuild.py); the run's transaction still publishes all of it at once.

A stored watermark from another PostgreSQL cluster (a restore onto a new server) also means a
full rebuild (watermark.py). In the same transaction every run marks the local days whose sessions
changed as stale for the aggregates (``pwr_core.stale_aggregate_days``), so late data reaches the
daily / weekly / monthly tables however late it is (defs/agg/late_data.py).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import psycopg

from pwr_platform.settings import get_settings
from pwr_platform.transforms import members, session_rebuild, watermark
from pwr_platform.warehouse.sql_runner import sql_statements

TRANSFORM = "voice_sessions"
SESSIONS = "pwr_core.voice_sessions"
MAX_ATTEMPTS = 3
# The aggregates built from sessions, each told which days changed (sql: mark_stale_days).
STALE_DAY_AGGREGATES = (
    "member_voice_daily",
    "voice_heatmap",
    "member_engagement_weekly",
    "member_monthly_status",
)


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
    days_marked_for_aggregates: int
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
    rebuild_connections: int = 1,
    timezone: str | None = None,
    log=None,
) -> SessionizerResult:
    """Bring ``pwr_core.voice_sessions`` up to date with raw (one transaction per attempt).

    ``conn`` must be idle (not inside a transaction). Users not yet in ``pwr_core.members`` are
    added first (in their own small transaction) so a session never lacks its member. A
    serialization failure (a concurrent writer touched the same member rows) is retried.
    ``rebuild_connections``: how many connections a full rebuild may build slices in at once
    (PWR_REBUILD_CONNECTIONS; about the database server's cores). ``timezone``: the reporting
    time zone whose days are marked stale for the aggregates (default PWR_TIMEZONE).
    """
    params = parameters(max_session_hours, collector_gap_minutes)
    timezone = timezone or get_settings().timezone
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _run_once(conn, params, timezone, full=full, connections=rebuild_connections, log=log)
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


def _run_once(
    conn: psycopg.Connection, params: dict, timezone: str, *, full: bool, connections: int, log
) -> SessionizerResult:
    started = time.perf_counter()
    stmts = sql_statements("voice_sessions")
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        with conn.transaction():
            previous = watermark.begin_incremental(conn, TRANSFORM, "pwr_core.voice_sessions", log)
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
            conn.execute("SELECT set_config('pwr.timezone', %s, true)", (timezone,))
            conn.execute(stmts["temp_tables"])

            def run(name: str, args: dict | None = None, **fmt: str) -> int:
                sql = stmts[name].format(**fmt) if fmt else stmts[name]
                return conn.execute(sql, args).rowcount

            if full:
                result = _full(conn, stmts, run, params, connections, log)
            else:
                result = _incremental(conn, stmts, run, previous.snapshot)
            run("changed_days_full" if full else "changed_days_incremental")
            marked = run("mark_stale_days", {"aggregates": list(STALE_DAY_AGGREGATES)})
            result["days_marked_for_aggregates"] = marked // len(STALE_DAY_AGGREGATES)
            snapshot = watermark.store(conn, TRANSFORM, params)
    except BaseException:
        if full:
            session_rebuild.clean_up_after_failure(conn, log)
        raise
    result.update(read_snapshot=snapshot, seconds=round(time.perf_counter() - started, 3))
    outcome = SessionizerResult(**result)
    if log:
        log(
            f"voice_sessions {outcome.mode}: {outcome.users_recomputed} users recomputed, "
            f"{outcome.sessions_deleted} sessions replaced by {outcome.sessions_written} in {outcome.seconds}s"
        )
    return outcome


def _missing_members(conn: psycopg.Connection, sql: str) -> None:
    missing = [r[0] for r in conn.execute(sql).fetchall()]
    if missing:
        raise MissingMembers(missing)


def _full(conn, stmts, run, params: dict, connections: int, log) -> dict:
    """Rebuild every session from raw (session_rebuild.py): slices built in parallel, swapped in
    by this transaction, which meanwhile counts what it replaces, recomputes the collector gaps
    and flags the completed events for attendance."""
    # first, before this transaction reads members: dropping those tables (with their foreign key
    # to members) needs members to itself for a moment
    leftovers = session_rebuild.drop_unattached_tables_aside(conn)
    if leftovers and log:
        log(f"dropped {len(leftovers)} tables an interrupted rebuild left behind: {', '.join(leftovers)}")
    _missing_members(conn, stmts["users_without_member_all"])
    definition = session_rebuild.read_definition(conn)
    slices = session_rebuild.plan_slices(conn, connections, definition.sequence)
    if log:
        log(f"voice_sessions full rebuild: {len(slices)} slices, one connection each")
    own: dict[str, int] = {}

    def meanwhile() -> None:
        own["deleted"] = conn.execute("SELECT count(*) FROM pwr_core.voice_sessions").fetchone()[0]
        own["raw"] = conn.execute(stmts["raw_events_all"]).fetchone()[0]
        conn.execute("TRUNCATE pwr_core.collector_gaps")
        run("all_heartbeat_regions")
        run("recompute_gaps")
        own["gaps"] = run("replace_gaps")
        own["flagged"] = run("flag_all_completed_events")

    results = session_rebuild.build_slices(conn, stmts, slices, definition, params, log, meanwhile)
    session_rebuild.swap_partitions(conn, slices, results, definition.sequence)
    written = sum(r.sessions for r in results)
    users = sum(r.users for r in results)
    return dict(
        mode="full",
        new_raw_users=users,
        users_recomputed=users,
        sessions_deleted=own["deleted"],
        sessions_written=written,
        collector_gaps_changed=own["gaps"],
        sessions_closed_by_timeout_now=0,
        ignored_leaves=own["raw"] - written - sum(r.closed_by_leave for r in results),
        events_flagged_for_attendance=own["flagged"],
    )


def _incremental(conn, stmts, run, prev_snapshot: str) -> dict:
    snap = {"prev": prev_snapshot}
    new_users = run("new_voice_events", snap)
    run("new_heartbeat_regions", snap)
    run("recompute_gaps")
    gaps = run("replace_gaps")
    run("affected_users")
    # temp tables have no statistics until analyzed: without them the planner guesses 1,000s of
    # rows and hash-joins whole tables instead of probing the per-user indexes
    conn.execute("ANALYZE _affected")
    _missing_members(conn, stmts["affected_users_without_member"])
    users = conn.execute("SELECT count(*) FROM _affected").fetchone()[0]
    deleted = written = 0
    if users:
        run("affected_member_ids")
        deleted = run("delete_affected_sessions")
        run("guild_clock_incremental")
        written = run("insert_sessions", ordered_events=stmts["ordered_events_incremental"], target=SESSIONS)
        since = conn.execute("SELECT min(recompute_from) FROM _affected").fetchone()[0]
        run("close_at_gaps", {"since": since}, sessions=SESSIONS, gaps="pwr_core.collector_gaps")
    timed_out = run("close_timed_out")
    run("new_sessions_of_affected")
    run("collect_changed_sessions")
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
