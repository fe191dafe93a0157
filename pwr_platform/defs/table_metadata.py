"""Column-schema metadata for table assets (shown as the asset's columns in the Dagster UI)."""

from __future__ import annotations

from dagster import TableColumn, TableSchema


def table_metadata(table: str, columns: list[tuple[str, str, str]]) -> dict:
    """``{"dagster/table_name", "dagster/column_schema"}`` from (name, type, description) triples."""
    return {
        "dagster/table_name": table,
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(name=n, type=t, description=d) for n, t, d in columns]
        ),
    }
