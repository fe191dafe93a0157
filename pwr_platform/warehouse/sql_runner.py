"""THE way to run a transform's SQL: load ``sql/<name>.sql``, run its named statements or the
whole file as a script, with one parameter set that names every setting once.

* A file of several statements, each introduced by a ``-- name: <name>`` line
  (``sql_statements``), keeps a whole rule readable in one place while Python runs the steps it
  chooses (full or incremental) in order, inside one transaction.
* A file run as written (``run_script``): psycopg's server-side binding takes one statement per
  call, so a ``ClientCursor`` binds the parameters client-side and "delete the window; insert the
  window; report it" runs as one script inside the caller's transaction.
* ``sql_params``: the settings every SQL file may use, each under one name (``tz``,
  ``max_session_hours``, ``gap_minutes``, ``on_time_grace_minutes``), plus the call's own window.

Lives with the transforms (not with the Dagster definitions) so that the command line and the bot
can run a transform without importing Dagster: layering goes warehouse ← transforms ← defs ← cli.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import psycopg

from pwr_platform.settings import get_settings

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def sql_path(name: str) -> Path:
    """``pwr_platform/sql/<name>.sql`` (``name`` may hold a folder: ``checks/<check>``)."""
    return SQL_DIR / f"{name}.sql"


def read_sql(name: str) -> str:
    """Text of ``pwr_platform/sql/<name>.sql`` (one file per transform)."""
    return sql_path(name).read_text()


STATEMENT_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def sql_statements(file_name: str) -> dict[str, str]:
    """``{statement name: SQL text}`` of ``sql/<file_name>.sql`` (the header comment is skipped)."""
    text = read_sql(file_name)
    parts = STATEMENT_NAME.split(text)
    statements = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        statements[name] = body.strip().rstrip(";")
    if not statements:
        raise ValueError(f"sql/{file_name}.sql has no '-- name:' statements")
    return statements


def sql_params(start_date: date | None = None, end_date: date | None = None, **extra: Any) -> dict[str, Any]:
    """The settings every SQL file understands, one name each, read now (not at import), plus
    the window ``[start_date, end_date)`` when given; ``extra`` adds or overrides (tests)."""
    settings = get_settings()
    params: dict[str, Any] = {
        "tz": settings.timezone,
        "max_session_hours": settings.max_session_hours,
        "gap_minutes": settings.collector_gap_minutes,
        "on_time_grace_minutes": settings.on_time_grace_minutes,
    }
    if start_date is not None:
        params["start_date"] = start_date
    if end_date is not None:
        params["end_date"] = end_date
    params.update(extra)
    return params


def run_script(conn: psycopg.Connection, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Execute ``sql/<name>.sql``; return the rows of its last result set (its summary), as dicts."""
    with psycopg.ClientCursor(conn) as cur:
        cur.execute(read_sql(name), params)
        rows: list[dict[str, Any]] = []
        while True:
            if cur.description is not None:
                columns = [c.name for c in cur.description]
                rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
            if not cur.nextset():
                break
        return rows


def window_dates(start: datetime, end: datetime) -> tuple[date, date]:
    """Local dates [start, end) of a partition time window (Dagster gives it in PWR_TIMEZONE)."""
    return start.date(), end.date()
