"""Materialize one time window of a partitioned aggregate with its SQL file.

Dagster hands the asset the time window of its run: one partition, or a whole range when a
backfill runs as a single run (``BackfillPolicy.single_run()``); the SQL replaces exactly that
window in one transaction, so both give the same table. In that same transaction the run consumes
the sessionizer's "stale day" marks inside its window (``sql/stale_aggregate_days.sql``): read
before the window is rebuilt, deleted after, so a mark made while the run reads stays.

A run whose window holds every row of the table (a backfill of all partitions, a new warehouse)
rebuilds the table's indexes once after the INSERT instead of row by row during it
(:func:`indexes_built_after`, ``sql/bulk_load.sql``): 2.94× → 1.37× the bare INSERT … SELECT
for all daily partitions at 2 years × 5,000 members (issue 16, bench/README.md). The table is then locked
for readers until the run commits; readers never see it half written either way.

The run's figures are its SQL file's last statement: the rows written and their totals (the
weekly, monthly and heatmap files take them from the INSERT's own RETURNING rows; the daily one
reads its window again, cheaper there). After a whole-table rebuild the count is also
``dagster/row_count``: no count(*) after the write (issue 16, third round). It is
``dagster/partition_row_count`` only when the run covers one partition: Dagster gives every
partition of a range run the run's one set of metadata, so a range's count would show in the UI
as each partition's row count (730 daily partitions each "2.9 M rows"). A range run's figures are
the run's, named as such (``rows_written`` for ``partitions`` partitions).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import psycopg
from dagster import AssetExecutionContext, MaterializeResult

from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import materialized_table_metadata
from pwr_platform.warehouse.sql_runner import run_script, sql_params, sql_statements, window_dates

# Where each aggregate's partitions are stored, and their period column (row counts per window).
STORED_IN = {
    "member_voice_daily": ("pwr_agg.member_voice_daily", "activity_date"),
    "voice_heatmap": ("pwr_agg.voice_heatmap_hourly", "activity_date"),
    "member_engagement_weekly": ("pwr_agg.member_engagement_weekly", "week_start_date"),
    "member_monthly_status": ("pwr_agg.member_monthly_status", "month_start_date"),
}


@contextmanager
def indexes_built_after(
    conn: psycopg.Connection, table: str, column: str, start: date, end: date
) -> Iterator[bool]:
    """Inside the caller's transaction: when no row of ``table`` lies outside ``[start, end)`` (the
    window's DELETE empties it) and no foreign key depends on its keys, drop its indexes and its
    primary / unique / foreign keys, empty it with TRUNCATE, let the block write, then create them
    again from the catalog's own definitions and ANALYZE. Yields whether it did (otherwise the
    block runs as it is).

    The decision is taken again under the ACCESS EXCLUSIVE lock the DROPs need anyway (the first,
    unlocked look keeps a run of some days from locking readers out): when it yields True, no other
    transaction can add a row outside the window before the caller commits, so the rows the block
    writes are the whole table. (TRUNCATE's one difference from DELETE for readers: a REPEATABLE
    READ or SERIALIZABLE transaction whose snapshot predates the commit and which had not read the
    table yet sees it empty afterwards; dashboards and the bot read one statement at a time.)"""
    outside = f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {column} < %s OR {column} >= %s)"  # noqa: S608 - constants
    if conn.execute(outside, (start, end)).fetchone()[0]:
        yield False
        return
    constraints, indexes, referenced = conn.execute(
        sql_statements("bulk_load")["indexes"], {"table": table}
    ).fetchone()
    if referenced or not (constraints or indexes):
        yield False
        return
    conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    if conn.execute(outside, (start, end)).fetchone()[0]:  # committed between the look and the lock
        yield False
        return
    for name, _ in constraints:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    schema = table.split(".")[0]
    for name, _ in indexes:
        conn.execute(f'DROP INDEX {schema}."{name}"')
    # every row is the window's, which the block's DELETE would remove one by one: a backfill over
    # a full table (2.9 M daily rows) would write each deletion to the WAL and leave the table
    # twice its size until a VACUUM. TRUNCATE empties it at once, rolled back with the rest.
    conn.execute(f"TRUNCATE {table}")
    yield True
    for name, definition in constraints:
        conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        conn.execute(definition)
    conn.execute(f"ANALYZE {table}")


def materialize_window(
    context: AssetExecutionContext, warehouse: WarehouseResource, sql_name: str
) -> MaterializeResult:
    start, end = window_dates(*context.partition_time_window)
    stale = sql_statements("stale_aggregate_days")
    window = {"aggregate": sql_name, "start_date": start, "end_date": end}
    table = f"pwr_agg.{sql_name}"
    stored_in, column = STORED_IN[sql_name]
    with warehouse.connect() as conn:
        seen = conn.execute(stale["seen_in_window"], window).fetchall()
        with indexes_built_after(conn, stored_in, column, start, end) as rebuilt:
            # the SQL file's last statement: the rows it wrote, counted and summed
            (summary,) = run_script(conn, sql_name, sql_params(start, end))
        consumed = conn.execute(
            stale["consume"], {**window, "days": [r[0] for r in seen], "xids": [r[1] for r in seen]}
        ).rowcount
        figures = {k: int(v) for k, v in summary.items()}
        written = figures["rows_written"]
        standard = materialized_table_metadata(
            conn,
            table,
            # a rebuild holds the table's lock and left no row outside the window: the rows written
            # are the table (not so for voice_heatmap, whose table is a view over the stored rows)
            row_count=written if rebuilt and stored_in == table else None,
            partition_row_count=written if len(context.partition_keys) == 1 else None,
        )
    context.log.info(f"{sql_name}: replaced [{start}, {end}): {figures}")
    return MaterializeResult(
        metadata={
            **standard,
            "window_start": start.isoformat(),
            "window_end_exclusive": end.isoformat(),
            "partitions": len(context.partition_keys),
            "stale_day_marks_consumed": consumed,
            "indexes_built_after_insert": rebuilt,
            **figures,
        }
    )
