"""Column descriptions written once: ``column_docs.yaml`` applied as PostgreSQL comments
(schemas pwr_raw, pwr_core, pwr_agg and pwr_dota).

Why comments in the catalog: every reader of the warehouse already looks there (psql's ``\\d+``,
Superset's dataset editor, Dagster's column schema via ``col_description``), so the words live
with the schema instead of being restated by each consumer. Migrations call
:func:`apply_column_docs`; it comments only what exists at that revision, so a later migration
that adds a table and its text simply calls it again.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

DOCS_FILE = Path(__file__).with_name("column_docs.yaml")
SCHEMAS = ("pwr_raw", "pwr_core", "pwr_agg", "pwr_dota")
# COMMENT ON needs the kind of relation: table (plain or partitioned), view, materialized view.
RELATION_KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}

CATALOG = """
SELECT n.nspname || '.' || c.relname, c.relkind, a.attname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname IN ('pwr_raw', 'pwr_core', 'pwr_agg', 'pwr_dota')
  AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
"""


@cache
def column_docs() -> dict[str, dict]:
    """``{"schema.table": {"table": text, "columns": {column: text}}}`` from the YAML file."""
    return yaml.safe_load(DOCS_FILE.read_text(encoding="utf-8"))


def _literal(text: str) -> str:
    # standard_conforming_strings is on (PostgreSQL's default since 9.1): only quotes need doubling
    return "'" + text.replace("'", "''") + "'"


def _ident(qualified: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in qualified.split("."))


def comment_statements(catalog_rows: list[tuple[str, str, str | None]]) -> list[str]:
    """COMMENT ON statements for the relations and columns of ``catalog_rows`` that have a text."""
    kinds = {rel: kind for rel, kind, _ in catalog_rows}
    columns = {(rel, col) for rel, _, col in catalog_rows if col}
    statements = []
    for rel, doc in column_docs().items():
        if rel not in kinds:
            continue
        statements.append(
            f"COMMENT ON {RELATION_KINDS[kinds[rel]]} {_ident(rel)} IS {_literal(doc['table'])}"
        )
        for col, text in doc["columns"].items():
            if (rel, col) in columns:
                statements.append(f"COMMENT ON COLUMN {_ident(rel)}.{_ident(col)} IS {_literal(text)}")
    return statements


def apply_column_docs(bind) -> int:
    """Comment every table, view and column of the warehouse schemas that the YAML describes.

    ``bind`` is a SQLAlchemy connection (``op.get_bind()`` in a migration). Returns how many
    COMMENT statements ran.
    """
    rows = [tuple(r) for r in bind.exec_driver_sql(CATALOG).fetchall()]
    statements = comment_statements(rows)
    for statement in statements:
        bind.exec_driver_sql(statement.replace("%", "%%"))
    return len(statements)
