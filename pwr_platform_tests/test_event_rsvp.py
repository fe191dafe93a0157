"""pwr_agg.event_rsvp: interested (Discord's user_count in the raw scheduled-event records) vs attended."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from pwr_platform.defs.keys import EVENT_RSVP
from pwr_platform_tests.agg_runner import run_assets
from pwr_platform_tests.agg_scenario import GUILD, insert_scenario, rows

D = Decimal


def observe(conn, discord_id: int, observed: str, status: str, user_count, guild: int = GUILD) -> None:
    payload = {"id": str(discord_id), "status": status}
    if user_count is not ...:
        payload["user_count"] = user_count
    conn.execute(
        "INSERT INTO pwr_raw.discord_scheduled_events (discord_guild_id, discord_event_id, observed_ts, status,"
        " name, scheduled_start_ts, raw_payload) VALUES (%s, %s, %s, %s, 'x', %s, %s)",
        (guild, discord_id, observed, status, observed, json.dumps(payload)),
    )


def test_interested_vs_attended_per_discord_event(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    # E1, E3 and the cancelled E6 are Discord scheduled events; E5 was imported from a file
    warehouse_conn.execute(
        "UPDATE pwr_core.events SET external_event_id = 'discord:' || (7000 + event_id) WHERE event_id IN (1, 3, 6)"
    )
    # E1: 4 interested at creation, 6 at the start; the gateway's completed update says 0 (no count)
    observe(warehouse_conn, 7001, "2025-03-05T10:00Z", "scheduled", 4)
    observe(warehouse_conn, 7001, "2025-03-11T20:05Z", "active", 6)
    observe(warehouse_conn, 7001, "2025-03-11T21:10Z", "completed", 0)
    # the same Discord id in another guild is another event: its count must not leak into E1
    observe(warehouse_conn, 7001, "2025-03-11T21:10Z", "completed", 50, guild=GUILD + 1)
    # E3: no positive count ever observed (missing, 0, not a number) → unknown
    observe(warehouse_conn, 7003, "2025-03-08T10:00Z", "scheduled", ...)
    observe(warehouse_conn, 7003, "2025-03-10T00:30Z", "active", 0)
    observe(warehouse_conn, 7003, "2025-03-10T01:30Z", "completed", "12")
    observe(warehouse_conn, 7003, "2025-03-10T01:31Z", "completed", None)
    # E6 was cancelled: not a completed event, not listed
    observe(warehouse_conn, 7006, "2025-03-12T10:00Z", "scheduled", 9)
    run_assets(warehouse_url, [EVENT_RSVP])
    assert rows(warehouse_conn, "SELECT * FROM pwr_agg.event_rsvp ORDER BY event_id") == [
        # 2 of 6 interested came
        (1, "Friday scrim", "scrim", datetime.fromisoformat("2025-03-11T20:05+00:00"), 6, 2, D("0.3333")),
        (3, "Late-night scrim", "scrim", datetime.fromisoformat("2025-03-10T00:30+00:00"), None, 1, None),
    ]


def test_more_attendees_than_interested_is_a_rate_above_one(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    warehouse_conn.execute("UPDATE pwr_core.events SET external_event_id = 'discord:7001' WHERE event_id = 1")
    observe(warehouse_conn, 7001, "2025-03-11T20:05Z", "active", 1.0)  # a count written as a JSON float
    run_assets(warehouse_url, [EVENT_RSVP])
    assert rows(warehouse_conn, "SELECT interested, attendees, conversion_rate FROM pwr_agg.event_rsvp") == [
        (1, 2, D("2.0000"))
    ]
