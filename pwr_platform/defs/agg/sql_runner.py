"""Run one transform's ``.sql`` file (several statements, named parameters) in one transaction.

psycopg's server-side binding takes one statement per call; a ``ClientCursor`` binds the
parameters client-side, so a file such as "delete the window; insert the window; report it"
runs as written, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import psycopg

from pwr_platform.settings import get_settings
from pwr_platform.warehouse.sqlfile import read_sql


def sql_params(start_date: date | None = None, end_date: date | None = None, **extra: Any) -> dict[str, Any]:
    """The parameters every aggregate's SQL understands: window, time zone, session cap."""
    settings = get_settings()
    params: dict[str, Any] = {"tz": settings.timezone, "cap_hours": settings.max_session_hours}
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
