"""The one table-metadata helper: what the Dagster UI shows about a warehouse table.

Definition time (``table_metadata``): the table's name, its column schema (names and types here,
each description from ``warehouse/column_docs.yaml``, the text the migrations put into
PostgreSQL as ``COMMENT ON COLUMN``: written once, shown before the first materialization), a code reference to
every SQL file the asset runs (the UI's "open source" link goes to the rule, not to the Python
glue), and which SQL files and extra tables belong to the asset (``pwr/sql_files``,
``pwr/also_writes``), the registry the SQL-lineage test walks.

Materialization time (``materialized_table_metadata``): the standard figures Dagster users expect
on every materialization (``dagster/row_count``, ``dagster/partition_row_count`` for a partition
window), the column schema as PostgreSQL's catalog has it (types from ``information_schema``,
descriptions from ``COMMENT ON COLUMN``: written once, in the migrations), and a short preview
(markdown written here: ten rows need no dataframe library, so ``pandas`` is no longer a dependency).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from dagster import (
    CodeReferencesMetadataValue,
    LocalFileCodeReference,
    MetadataValue,
    TableColumn,
    TableSchema,
)

from pwr_platform.warehouse.column_docs import column_docs
from pwr_platform.warehouse.sql_runner import sql_path

SQL_FILES_KEY = "pwr/sql_files"
ALSO_WRITES_KEY = "pwr/also_writes"
PREVIEW_ROWS = 10


def table_metadata(
    table: str,
    columns: Sequence[tuple[str, str]] = (),
    *,
    sql: Sequence[str] = (),
    also_writes: Sequence[str] = (),
) -> dict:
    """Definition metadata of a table asset (see the module docstring).

    ``columns``: (name, type) pairs shown before the first materialization, each described by
    ``warehouse/column_docs.yaml`` (a column the file does not describe is an error at load);
    ``sql``: the files under ``pwr_platform/sql`` the asset runs (without ``.sql``);
    ``also_writes``: tables the asset writes besides its own (e.g. ``pwr_core.event_channels``).
    """
    metadata: dict = {"dagster/table_name": table}
    if columns:
        described = column_docs()[table]["columns"]
        missing = [name for name, _ in columns if name not in described]
        if missing:
            raise KeyError(f"{table}: columns {missing} have no text in warehouse/column_docs.yaml")
        metadata["dagster/column_schema"] = TableSchema(
            columns=[TableColumn(name, type_, description=described[name]) for name, type_ in columns]
        )
    if sql:
        metadata["dagster/code_references"] = CodeReferencesMetadataValue(
            code_references=[
                LocalFileCodeReference(file_path=str(sql_path(name)), label=f"sql/{name}.sql") for name in sql
            ]
        )
        metadata[SQL_FILES_KEY] = ", ".join(f"{name}.sql" for name in sql)
    if also_writes:
        metadata[ALSO_WRITES_KEY] = ", ".join(also_writes)
    return metadata


def catalog_column_schema(conn: psycopg.Connection, table: str) -> TableSchema:
    """Columns of ``schema.table`` (table or view) in order, with their ``COMMENT ON COLUMN`` text."""
    schema, name = table.split(".")
    rows = conn.execute(
        """
        SELECT c.column_name, c.data_type, c.is_nullable = 'NO',
               col_description(format('%%I.%%I', c.table_schema, c.table_name)::regclass, c.ordinal_position)
        FROM information_schema.columns c
        WHERE c.table_schema = %s AND c.table_name = %s
        ORDER BY c.ordinal_position
        """,
        (schema, name),
    ).fetchall()
    return TableSchema(
        columns=[
            TableColumn(column, type_, description=comment, constraints=_constraints(not_null))
            for column, type_, not_null, comment in rows
        ]
    )


def _constraints(not_null: bool):
    from dagster import TableColumnConstraints

    return TableColumnConstraints(nullable=not not_null)


def preview(conn: psycopg.Connection, table: str, order_by: str | None = None) -> MetadataValue:
    """The first rows of ``table`` as a markdown table (the UI's quick look at what was built)."""
    order = f" ORDER BY {order_by}" if order_by else ""
    cur = conn.execute(f"SELECT * FROM {table}{order} LIMIT {PREVIEW_ROWS}")  # noqa: S608 (names from code)
    rows = cur.fetchall()
    if not rows:
        return MetadataValue.md("_(no rows)_")
    header = [c.name for c in cur.description]

    def cells(values) -> str:
        return "| " + " | ".join(str(v).replace("|", "\\|") if v is not None else "" for v in values) + " |"

    lines = [cells(header), "|" + "---|" * len(header), *(cells(row) for row in rows)]
    return MetadataValue.md("\n".join(lines))


def materialized_table_metadata(
    conn: psycopg.Connection,
    table: str,
    *,
    row_count: int | None = None,
    partition_row_count: int | None = None,
    preview_order: str | None = None,
) -> dict:
    """Standard metadata of one materialization of ``table``.

    ``row_count``: the table's row count when the caller already knows it exactly (a run that
    rebuilt the whole table under its lock wrote every row), else ``count(*)`` here;
    ``partition_row_count``: the rows of the run's partition, as its own INSERT reported them;
    only for a run of one partition (Dagster copies a range run's metadata onto each partition,
    where a count of the whole range would read as that partition's).
    """
    if row_count is None:
        row_count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
    metadata: dict = {
        "dagster/row_count": row_count,
        "dagster/column_schema": catalog_column_schema(conn, table),
    }
    if partition_row_count is not None:
        metadata["dagster/partition_row_count"] = partition_row_count
    if preview_order is not None:
        metadata["preview"] = preview(conn, table, preview_order)
    return metadata
