"""``pwr_core.event_attendance`` for one event (one Dagster partition): ``sql/event_attendance.sql``."""

from __future__ import annotations

import psycopg

from pwr_platform.transforms.sqlfile import sql_statements


def refresh_attendance(
    conn: psycopg.Connection, event_id: int, *, max_session_hours: int, on_time_grace_minutes: int
) -> dict:
    """Replace the event's attendance rows in one transaction; returns figures for metadata."""
    stmts = sql_statements("event_attendance")
    params = {
        "event_id": event_id,
        "max_session_hours": max_session_hours,
        "on_time_grace_minutes": on_time_grace_minutes,
    }
    with conn.transaction():
        conn.execute("SET LOCAL jit = off")
        event = conn.execute(
            "SELECT e.status, w.window_start_ts, w.window_end_ts FROM pwr_core.events e "
            "JOIN pwr_core.event_windows w USING (event_id) WHERE e.event_id = %s",
            (event_id,),
        ).fetchone()
        if event is None:
            raise ValueError(f"event {event_id} does not exist in pwr_core.events")
        removed = conn.execute(stmts["delete_partition"], params).rowcount
        attendees = conn.execute(stmts["insert_partition"], params).rowcount
        summary = conn.execute(
            "SELECT coalesce(sum(total_voice_seconds), 0), count(*) FILTER (WHERE joined_on_time) "
            "FROM pwr_core.event_attendance WHERE event_id = %s",
            (event_id,),
        ).fetchone()
    status, window_start, window_end = event
    return {
        "event_id": event_id,
        "status": status,
        "window_start": window_start.isoformat() if window_start else None,
        "window_end": window_end.isoformat() if window_end else None,
        "attendees": attendees,
        "rows_replaced": removed,
        "total_voice_seconds": int(summary[0]),
        "joined_on_time": summary[1],
    }
