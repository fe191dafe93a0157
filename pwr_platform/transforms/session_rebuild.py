"""Full rebuild of ``pwr_core.voice_sessions``: built on every core, published in one transaction.

A full rebuild (first run, a changed cap or gap setting, or on request) is one window pass over
every raw event plus a sort per index. PostgreSQL runs a window pass on one core (window functions
are parallel-restricted) and never runs INSERT … SELECT in parallel, so one statement leaves the
other cores idle. Here the users are cut into slices, ranges of (guild, user) holding about as many
raw events each, and every slice is built at the same time by its own connection into a new table
with its own block of session ids: sessions, checks, primary key, indexes, foreign key and the
collector-gap closing. Each slice reads raw under the run's snapshot (exported by the run's
transaction, imported by the slice's), so together they are exactly one rebuild at that snapshot.

The run's own transaction holds the sessions lock from start to end. Once every slice is built it
detaches and drops the old partitions of ``voice_sessions`` (range-partitioned by ``session_id``,
migration 0007) and attaches the new tables in their place (their checks, keys and indexes match
the parent's, so attaching reads no rows), replaces the collector gaps and stores the watermark.
Readers see the old sessions or the new ones, never a mix; a run killed at any point leaves the
previous state. The tables of a failed run are dropped right after it rolled back
(clean_up_after_failure), or else by the next full rebuild (drop_unattached_tables).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

SCHEMA = "pwr_core"
TABLE = "voice_sessions"
PARENT = f"{SCHEMA}.{TABLE}"
# a new partition is named after the first id of its block: names never repeat
PARTITION_PREFIX = f"{TABLE}_from_"
# fewer connections than asked when the slices would be smaller than this (setting up a slice
# costs a few statements; below this size one connection is as fast)
MIN_RAW_EVENTS_PER_SLICE = 500_000
# the slice boundaries come from a sample of about this many raw events
SAMPLE_ROWS = 100_000
# sort memory per index build (each slice's connection, inside the rebuild only)
BULK_MAINTENANCE_WORK_MEM = "512MB"
# ids are drawn in blocks of this many while a slice loads (one sequence access per block)
BULK_SEQUENCE_CACHE = 10_000
SMALLEST = -(2**63)
LARGEST = 2**63 - 1


@dataclass(frozen=True)
class Slice:
    """One connection's share: raw events of (guild, user) from ``first`` to ``last``
    inclusive, session ids from ``id_from`` to ``id_to`` (exclusive; None: no end — the last
    slice, where the sessions of later incremental runs go too)."""

    first: tuple[int, int]
    last: tuple[int, int]
    id_from: int
    id_to: int | None

    @property
    def table(self) -> str:
        return f"{PARTITION_PREFIX}{self.id_from}"

    @property
    def bounds(self) -> dict:
        return {
            "first_guild": self.first[0],
            "first_user": self.first[1],
            "last_guild": self.last[0],
            "last_user": self.last[1],
        }


@dataclass(frozen=True)
class SliceResult:
    sessions: int
    closed_by_leave: int
    users: int
    max_session_id: int | None
    load_seconds: float  # the sessions, under the run's snapshot
    seconds: float  # everything: load, rules, gaps, counts


@dataclass(frozen=True)
class TableDefinition:
    """The parent's rules, read from the catalog (the migrations stay their only source)."""

    checks: list[tuple[str, str]]
    primary_key: str
    foreign_keys: list[tuple[str, str]]
    indexes: list[tuple[str, str]]  # (name, "USING btree (…) [WHERE …]")
    sequence: str


def read_definition(conn: psycopg.Connection) -> TableDefinition:
    def constraints(contype: str) -> list[tuple[str, str]]:
        return conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = %s ORDER BY conname",
            (PARENT, contype),
        ).fetchall()

    indexes = conn.execute(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        ORDER BY c.relname
        """,
        (PARENT,),
    ).fetchall()
    sequence = conn.execute("SELECT pg_get_serial_sequence(%s, 'session_id')", (PARENT,)).fetchone()[0]
    (primary_key,) = constraints("p")
    return TableDefinition(
        checks=constraints("c"),
        primary_key=primary_key[1],
        foreign_keys=constraints("f"),
        # "CREATE INDEX name ON ONLY table USING …": the method, columns and predicate
        indexes=[(name, "USING " + definition.split(" USING ", 1)[1]) for name, definition in indexes],
        sequence=sequence,
    )


def drop_unattached_tables(conn: psycopg.Connection) -> list[str]:
    """Drop the tables a killed rebuild left behind (named like partitions, attached to nothing).

    Only while holding the sessions lock, or on behalf of a transaction that holds it (no other
    rebuild can be making such tables then). Dropping a table with a foreign key locks ``members``
    exclusively (until the transaction ends): not from the run's own transaction, and not while
    it holds any lock on members (drop_unattached_tables_aside would wait for it forever)."""
    names = [
        r[0]
        for r in conn.execute(
            """
            SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
              AND starts_with(c.relname, %s)
            """,
            (SCHEMA, PARTITION_PREFIX),
        ).fetchall()
    ]
    for name in names:
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(SCHEMA, name)))
    return names


def plan_slices(conn: psycopg.Connection, connections: int, sequence: str) -> list[Slice]:
    """Cut the (guild, user) pairs into up to ``connections`` slices of about equal raw events
    (quantiles of a page sample) and give each a block of ids no slice can overflow: a block is
    as large as the raw table could hold rows (its pages × the most rows a page can hold)."""
    estimate = conn.execute(
        "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'pwr_raw.discord_voice_events'::regclass"
    ).fetchone()[0]
    if estimate >= connections * MIN_RAW_EVENTS_PER_SLICE:
        wanted = connections
    else:
        wanted = max(1, estimate // MIN_RAW_EVENTS_PER_SLICE)
    starts: list[tuple[int, int]] = []
    if wanted > 1:
        percent = min(100.0, 100.0 * SAMPLE_ROWS / max(estimate, 1))
        starts = [
            (guild, user)
            for guild, user in conn.execute(
                f"""
                SELECT min(discord_guild_id), min(discord_user_id) FROM (
                    SELECT discord_guild_id, discord_user_id,
                           ntile({int(wanted)}) OVER (ORDER BY discord_guild_id, discord_user_id) AS slice
                    FROM pwr_raw.discord_voice_events TABLESAMPLE SYSTEM ({percent})
                ) sample
                GROUP BY slice ORDER BY slice
                """
            ).fetchall()[1:]
        ]
        starts = sorted(set(starts))
    block = conn.execute(
        # a heap page holds at most (block size - page header) / (line pointer + tuple header) rows
        "SELECT pg_relation_size('pwr_raw.discord_voice_events') / current_setting('block_size')::int"
        " * ((current_setting('block_size')::int - 24) / 28) + 1"
    ).fetchone()[0]
    first_id = conn.execute("SELECT nextval(%s)", (sequence,)).fetchone()[0]
    firsts = [(SMALLEST, SMALLEST), *starts]
    lasts = [_predecessor(start) for start in starts] + [(LARGEST, LARGEST)]
    count = len(firsts)
    return [
        Slice(
            first=firsts[k],
            last=lasts[k],
            id_from=first_id + k * block,
            id_to=first_id + (k + 1) * block if k < count - 1 else None,
        )
        for k in range(count)
    ]


def _predecessor(key: tuple[int, int]) -> tuple[int, int]:
    guild, user = key
    return (guild, user - 1) if user > SMALLEST else (guild - 1, LARGEST)


def sibling_conninfo(conn: psycopg.Connection) -> str:
    """The connection string of ``conn`` (its password included) for the slices' connections."""
    return make_conninfo(conn.info.dsn, password=conn.info.password)  # None: left out


def build_slices(
    conn: psycopg.Connection,
    stmts: dict[str, str],
    slices: list[Slice],
    definition: TableDefinition,
    settings: dict[str, int],
    log: Callable[[str], None] | None,
    meanwhile: Callable[[], object],
) -> list[SliceResult]:
    """Build every slice at once, each in its own connection under ``conn``'s snapshot, while
    ``conn`` itself runs ``meanwhile`` (the run's own share of the work). If a slice fails, the
    others are cancelled and the first error raised (clean_up_after_failure drops the tables
    once the run has rolled back)."""
    snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
    conninfo = sibling_conninfo(conn)
    connections = [psycopg.connect(conninfo, autocommit=True) for _ in slices]
    try:
        with ThreadPoolExecutor(max_workers=len(slices), thread_name_prefix="session-slice") as pool:
            futures = [
                pool.submit(
                    _build_slice, c, stmts, s, definition, settings, snapshot, parallel=len(slices) > 1
                )
                for c, s in zip(connections, slices, strict=True)
            ]
            for future in futures:
                future.add_done_callback(
                    lambda f: [c.cancel_safe() for c in connections] if f.exception() else None
                )
            try:
                meanwhile()
                wait(futures)
            except BaseException:  # the run's own part failed, or it was interrupted
                for c in connections:
                    c.cancel_safe()
                wait(futures)
                raise
            results = [f.result() for f in futures]
    finally:
        for c in connections:
            c.close()
    if log:
        for k, (s, r) in enumerate(zip(slices, results, strict=True), start=1):
            log(
                f"voice_sessions slice {k}/{len(slices)}: {r.sessions} sessions into {s.table} in {r.seconds}s"
                f" (loaded in {r.load_seconds}s, then its checks, keys, indexes and gaps)"
            )
    return results


def drop_unattached_tables_aside(conn: psycopg.Connection) -> list[str]:
    """drop_unattached_tables in a connection of its own, for the run holding the sessions lock."""
    with psycopg.connect(sibling_conninfo(conn), autocommit=True) as aside:
        return drop_unattached_tables(aside)


def clean_up_after_failure(conn: psycopg.Connection, log: Callable[[str], None] | None) -> None:
    """After a failed rebuild has rolled back: drop the tables its slices made, at once rather
    than at the next full rebuild (they can be as large as the sessions). In a new connection,
    since the failure may have been the run's own; only when the sessions lock is free, so the
    tables of a rebuild that started meanwhile are left alone. Dropping a table with a foreign
    key waits for every lock on the referenced members, so this cannot happen inside the run."""
    try:
        with psycopg.connect(sibling_conninfo(conn)) as cleaner:
            cleaner.execute(f"LOCK TABLE {PARENT} IN SHARE ROW EXCLUSIVE MODE NOWAIT")
            dropped = drop_unattached_tables(cleaner)
        if dropped and log:
            log(f"dropped the {len(dropped)} tables of the failed rebuild: {', '.join(dropped)}")
    except psycopg.Error:
        pass  # the next full rebuild drops them (drop_unattached_tables)


def _build_slice(
    conn: psycopg.Connection,
    stmts: dict[str, str],
    part: Slice,
    definition: TableDefinition,
    settings: dict[str, int],
    snapshot: str,
    *,
    parallel: bool,
) -> SliceResult:
    started = time.perf_counter()
    table = sql.Identifier(SCHEMA, part.table)
    ids = sql.Identifier(SCHEMA, f"{part.table}_ids")
    target = table.as_string(conn)

    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMPRESSION)"
        ).format(table, sql.Identifier(SCHEMA, TABLE))
    )
    conn.execute(
        sql.SQL("CREATE SEQUENCE {} START {} CACHE {} OWNED BY {}.session_id").format(
            ids, sql.Literal(part.id_from), sql.Literal(BULK_SEQUENCE_CACHE), table
        )
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} ALTER COLUMN session_id SET DEFAULT nextval({})").format(
            table, sql.Literal(ids.as_string(conn))
        )
    )

    # the sessions and the collector gaps, both under the run's snapshot
    conn.autocommit = False
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
    conn.execute("SET LOCAL jit = off")
    # the slice bounds are row comparisons, whose selectivity the planner cannot estimate (it
    # may guess one row and look every member up by index); the statement reads the whole slice
    conn.execute("SET LOCAL enable_nestloop = off")
    for name, value in settings.items():  # for the session: the gap closing runs after the commit
        conn.execute("SELECT set_config(%s, %s, false)", (f"pwr.{name}", str(value)))
    conn.execute(stmts["temp_tables"])
    conn.execute(stmts["guild_clock_full"])
    written = conn.execute(
        stmts["insert_sessions"].format(ordered_events=stmts["ordered_events_full"], target=target),
        part.bounds,
    ).rowcount
    conn.execute(stmts["all_heartbeat_regions"])
    conn.execute(stmts["recompute_gaps"])
    # kept past the commit (the working tables go with it) for the gap closing after the indexes
    conn.execute("CREATE TEMP TABLE _slice_gaps AS TABLE _recomputed_gaps")
    conn.commit()
    conn.autocommit = True
    loaded = time.perf_counter()

    # then its rules, in bulk: one scan for all checks (the parent's, under the same names, and
    # the id range, which lets attaching skip its own scan; cheaper than checking row by row while
    # loading, measured), one sort per index, one join for the foreign key
    conn.execute(f"SET maintenance_work_mem = '{BULK_MAINTENANCE_WORK_MEM}'")
    if parallel:
        conn.execute("SET max_parallel_maintenance_workers = 0")  # the slices already use every core
    conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN session_id DROP DEFAULT").format(table))
    conn.execute(sql.SQL("DROP SEQUENCE {}").format(ids))
    id_range = f"session_id >= {part.id_from}" + (f" AND session_id < {part.id_to}" if part.id_to else "")
    _add_constraints(conn, table, [*definition.checks, (f"{part.table}_ids", f"CHECK ({id_range})")])
    _add_constraints(conn, table, [(f"{part.table}_pkey", definition.primary_key)])
    for name, method in definition.indexes:
        suffix = name.removeprefix(f"{TABLE}_")
        conn.execute(
            sql.SQL("CREATE INDEX {} ON {} ").format(sql.Identifier(f"{part.table}_{suffix}"), table)
            + sql.SQL(method)
        )
    _add_constraints(conn, table, definition.foreign_keys)
    conn.execute(stmts["close_at_gaps"].format(sessions=target, gaps="_slice_gaps"), {"since": "-infinity"})
    closed_by_leave = conn.execute(stmts["sessions_closed_by_leave"].format(target=target)).fetchone()[0]
    users = conn.execute(stmts["users_with_sessions_all"].format(target=target)).fetchone()[0]
    max_id = conn.execute(sql.SQL("SELECT max(session_id) FROM {}").format(table)).fetchone()[0]
    conn.execute(sql.SQL("ANALYZE {}").format(table))
    return SliceResult(
        sessions=written,
        closed_by_leave=closed_by_leave,
        users=users,
        max_session_id=max_id,
        load_seconds=round(loaded - started, 3),
        seconds=round(time.perf_counter() - started, 3),
    )


def _add_constraints(conn: psycopg.Connection, table: sql.Composable, constraints) -> None:
    """All in one ALTER TABLE: PostgreSQL then checks the rows in one pass."""
    if constraints:
        conn.execute(
            sql.SQL("ALTER TABLE {} ").format(table)
            + sql.SQL(", ").join(
                sql.SQL("ADD CONSTRAINT {} ").format(sql.Identifier(name)) + sql.SQL(definition)
                for name, definition in constraints
            )
        )


def swap_partitions(
    conn: psycopg.Connection, slices: list[Slice], results: list[SliceResult], sequence: str
) -> None:
    """In the run's transaction: the new tables replace the partitions."""
    parent = sql.Identifier(SCHEMA, TABLE)
    old = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass ORDER BY c.relname",
        (PARENT,),
    ).fetchall()
    for (name,) in old:
        partition = sql.Identifier(SCHEMA, name)
        conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(parent, partition))
        conn.execute(sql.SQL("DROP TABLE {}").format(partition))
    for s in slices:
        table = sql.Identifier(SCHEMA, s.table)
        upper = sql.Literal(s.id_to) if s.id_to is not None else sql.SQL("MAXVALUE")
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                parent, table, sql.Literal(s.id_from), upper
            )
        )
        # the id range is the partition's own constraint now
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, sql.Identifier(f"{s.table}_ids"))
        )
    # the sequence goes on after the last slice's ids (later sessions land in its partition) and
    # after its first id even when it got no session (the id names the partition)
    last_id = max([r.max_session_id for r in results if r.max_session_id is not None], default=0)
    following = max(slices[-1].id_from, last_id) + 1
    conn.execute("SELECT setval(%s, %s, false)", (sequence, following))
