"""``pwr_core.event_attendance`` for one event (one Dagster partition): ``sql/event_attendance.sql``.

Dagster's partitions and the warehouse may drift apart: two warehouses materialized against one
Dagster storage, a warehouse restored from a backup older than Dagster's records, an event
removed. A partition whose event this warehouse does not have is skipped (and reported), never
an error, so every command and sensor keeps working.
"""

from __future__ import annotations

import psycopg

from pwr_platform.warehouse.sql_runner import sql_statements


def refresh_attendance(
    conn: psycopg.Connection, event_id: int, *, max_session_hours: int, on_time_grace_minutes: int
) -> dict:
    """Replace one event's attendance rows in one transaction; returns figures for metadata."""
    figures = refresh_attendance_many(
        conn, [event_id], max_session_hours=max_session_hours, on_time_grace_minutes=on_time_grace_minutes
    )
    if figures["skipped"]:
        raise ValueError(f"event {event_id} does not exist in pwr_core.events")
    return figures["events"][0]


def refresh_attendance_many(
    conn: psycopg.Connection, event_ids: list[int], *, max_session_hours: int, on_time_grace_minutes: int
) -> dict:
    """Replace the attendance rows of all ``event_ids`` with two set-based statements, one transaction.

    Returns per-event figures and totals for the materialization metadata, and the ids it
    ``skipped`` because this warehouse has no such event.
    """
    stmts = sql_statements("event_attendance")
    params = {
        "event_ids": list(event_ids),
        "max_session_hours": max_session_hours,
        "on_time_grace_minutes": on_time_grace_minutes,
    }
    with conn.transaction():
        conn.execute("SET LOCAL jit = off")
        events = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT e.event_id, e.status, w.window_start_ts, w.window_end_ts FROM pwr_core.events e "
                "JOIN pwr_core.event_windows w USING (event_id) WHERE e.event_id = ANY (%s)",
                (list(event_ids),),
            )
        }
        skipped = sorted(set(event_ids) - set(events))
        event_ids = [e for e in event_ids if e in events]
        params["event_ids"] = event_ids
        removed = conn.execute(stmts["delete_partition"], params).rowcount
        attendees = conn.execute(stmts["insert_partition"], params).rowcount
        per_event = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT event_id, count(*), coalesce(sum(total_voice_seconds), 0), "
                "count(*) FILTER (WHERE joined_on_time) "
                "FROM pwr_core.event_attendance WHERE event_id = ANY (%s) GROUP BY event_id",
                (list(event_ids),),
            )
        }
    out = []
    for event_id in event_ids:
        status, window_start, window_end = events[event_id]
        count, seconds, on_time = per_event.get(event_id, (0, 0, 0))
        out.append(
            {
                "event_id": event_id,
                "status": status,
                "window_start": window_start.isoformat() if window_start else None,
                "window_end": window_end.isoformat() if window_end else None,
                "attendees": count,
                "total_voice_seconds": int(seconds),
                "joined_on_time": on_time,
            }
        )
    return {"events": out, "attendees": attendees, "rows_replaced": removed, "skipped": skipped}
