"""Named statements inside one transform's SQL file.

A transform's SQL file holds several statements, each introduced by a ``-- name: <name>`` line,
so the whole rule stays readable in one place while Python runs the steps it chooses (full or
incremental) in order, inside one transaction.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def read_sql(name: str) -> str:
    """Text of ``pwr_platform/sql/<name>.sql`` (one file per transform).

    Lives with the transforms (not with the Dagster resources) so that the command line and the
    bot can run a transform without importing Dagster: layering goes warehouse ← transforms ← defs.
    """
    return (SQL_DIR / f"{name}.sql").read_text()


_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def sql_statements(file_name: str) -> dict[str, str]:
    """``{statement name: SQL text}`` of ``sql/<file_name>.sql`` (the header comment is skipped)."""
    text = read_sql(file_name)
    parts = _NAME.split(text)
    statements = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        statements[name] = body.strip().rstrip(";")
    if not statements:
        raise ValueError(f"sql/{file_name}.sql has no '-- name:' statements")
    return statements
