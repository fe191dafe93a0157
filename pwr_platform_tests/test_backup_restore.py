"""Backup → drop → restore of a warehouse gives identical tables (docs/deploy.md, "Backup and restore").

The warehouse is filled with rows in every table (plain SQL: events with realistic payloads,
members, sessions, events, attendance, aggregates), every table is checksummed (md5 of its
rows in a fixed order, plus row count), sequences and the schema's indexes and constraints are
recorded; then the documented `pg_dump -Fc` / `pg_restore` round trip runs with the dump tools
that match the server (the wheel's PostgreSQL 16 binaries, or the server's own major version).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pwr_platform.warehouse.embedded import _bin_path
from pwr_platform_tests.conftest import create_database, drop_database

SCHEMAS = ("pwr_raw", "pwr_core", "pwr_agg")

# Rows for every table of the schema (migrations 0001, 0002). A new table needs rows here:
# the test refuses to call an empty table "restored".
FILL_SQL = r"""
INSERT INTO pwr_raw.discord_voice_events
    (discord_user_id, discord_guild_id, discord_channel_id, event_type, event_ts, raw_payload)
SELECT 822222222222220000 + (g % 40), 811111111111111111, 833333333333330000 + (g % 5),
       (ARRAY['join', 'move', 'leave'])[1 + g % 3],
       timestamptz '2026-10-01 18:00Z' + g * interval '7 minutes',
       jsonb_build_object('event_type', (ARRAY['join', 'move', 'leave'])[1 + g % 3],
                          'username', 'user' || (g % 40), 'display_name', 'User ' || (g % 40),
                          'self_mute', g % 2 = 0, 'source', 'bot', 'note', E'quote '' and \\ and ünicode')
FROM generate_series(1, 500) AS g;
INSERT INTO pwr_raw.rejected_voice_events (source, source_ref, raw_text, reason)
VALUES ('jsonl', 'backfill.jsonl:3', '{"event_type": "dance"}', 'unknown event_type'),
       ('loki', NULL, 'not json', 'invalid JSON');
INSERT INTO pwr_raw.collector_heartbeats (discord_guild_id, collector_run_id, heartbeat_ts)
SELECT 811111111111111111, 'run-1', timestamptz '2026-10-01 18:00Z' + g * interval '1 minute'
FROM generate_series(0, 120) AS g;
INSERT INTO pwr_raw.discord_member_events
    (discord_guild_id, discord_user_id, event_type, event_ts, username, display_name, joined_at)
SELECT 811111111111111111, 822222222222220000 + g, 'snapshot', timestamptz '2026-10-01 17:00Z',
       'user' || g, 'User ' || g, timestamptz '2026-01-01Z' + g * interval '3 days'
FROM generate_series(0, 39) AS g;
INSERT INTO pwr_raw.discord_scheduled_events
    (discord_guild_id, discord_event_id, observed_ts, status, name, event_type, scheduled_start_ts,
     scheduled_end_ts, discord_channel_id, creator_discord_user_id)
VALUES (811111111111111111, 900000000000000001, '2026-10-01 10:00Z', 'scheduled', 'Scrim night', 'scrim',
        '2026-10-01 19:00Z', '2026-10-01 21:00Z', 833333333333330000, 822222222222220001),
       (811111111111111111, 900000000000000001, '2026-10-01 19:01Z', 'active', 'Scrim night', 'scrim',
        '2026-10-01 19:00Z', '2026-10-01 21:00Z', 833333333333330000, 822222222222220001);

INSERT INTO pwr_core.members (discord_user_id, first_seen_ts, last_seen_ts, display_name, username, join_date)
SELECT 822222222222220000 + g, timestamptz '2026-10-01 18:00Z', timestamptz '2026-10-03 18:00Z',
       'User ' || g, 'user' || g, timestamptz '2026-01-01Z' + g * interval '3 days'
FROM generate_series(0, 39) AS g;
INSERT INTO pwr_core.voice_sessions
    (member_id, discord_guild_id, discord_channel_id, session_start_ts, session_end_ts,
     duration_seconds, is_completed, close_reason)
SELECT m.member_id, 811111111111111111, 833333333333330000,
       timestamptz '2026-10-01 19:00Z' + m.member_id * interval '1 minute',
       timestamptz '2026-10-01 20:00Z' + m.member_id * interval '1 minute', 3600, TRUE, 'leave'
FROM pwr_core.members m;
INSERT INTO pwr_core.voice_sessions (member_id, discord_guild_id, discord_channel_id, session_start_ts)
SELECT member_id, 811111111111111111, 833333333333330001, timestamptz '2026-10-03 19:00Z'
FROM pwr_core.members WHERE member_id % 4 = 0;
INSERT INTO pwr_core.events
    (external_event_id, name, description, event_type, scheduled_start_ts, scheduled_end_ts,
     actual_start_ts, actual_end_ts, host_member_id, status, discord_guild_id)
SELECT 'discord:90000000000000000' || g, 'Event ' || g, 'Weekly ' || g, 'scrim',
       timestamptz '2026-10-01 19:00Z' + g * interval '7 days', timestamptz '2026-10-01 21:00Z' + g * interval '7 days',
       timestamptz '2026-10-01 19:02Z' + g * interval '7 days', timestamptz '2026-10-01 20:55Z' + g * interval '7 days',
       (SELECT min(member_id) FROM pwr_core.members), 'completed', 811111111111111111
FROM generate_series(0, 3) AS g;
INSERT INTO pwr_core.event_channels (event_id, discord_channel_id)
SELECT event_id, 833333333333330000 FROM pwr_core.events;
INSERT INTO pwr_core.event_attendance
    (event_id, member_id, first_join_ts, last_leave_ts, total_voice_seconds, joined_on_time)
SELECT e.event_id, s.member_id, s.session_start_ts, s.session_end_ts, 3300, s.member_id % 3 <> 0
FROM pwr_core.events e JOIN pwr_core.voice_sessions s ON s.is_completed
WHERE e.external_event_id = 'discord:900000000000000000';

INSERT INTO pwr_agg.member_voice_daily (activity_date, member_id, total_sessions, total_voice_seconds)
SELECT date '2026-10-01', member_id, 1, 3600 FROM pwr_core.members;
INSERT INTO pwr_agg.member_engagement_weekly
    (week_start_date, member_id, total_voice_seconds, events_attended, distinct_event_types)
SELECT date '2026-09-28', member_id, 3600, 1, 1 FROM pwr_core.members;
INSERT INTO pwr_agg.member_monthly_status (month_start_date, member_id, was_active)
SELECT date '2026-10-01', member_id, member_id % 5 <> 0 FROM pwr_core.members;
"""


def _tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(%s) ORDER BY 1, 2",
        (list(SCHEMAS),),
    ).fetchall()


def warehouse_fingerprint(url: str) -> dict:
    """Per table: row count and md5 of all rows in a fixed order; sequences; indexes and constraints."""
    with psycopg.connect(url) as conn:
        tables = {}
        for schema, table in _tables(conn):
            ident = sql.Identifier(schema, table)
            count, digest = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t"
                ).format(ident)
            ).fetchone()
            tables[f"{schema}.{table}"] = (count, digest)
        sequences = dict(
            conn.execute(
                "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences WHERE schemaname = ANY(%s)",
                (list(SCHEMAS),),
            ).fetchall()
        )
        indexes = sorted(
            r[0]
            for r in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = ANY(%s)", (list(SCHEMAS),)
            ).fetchall()
        )
        constraints = sorted(
            conn.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace::regnamespace::text = ANY(%s)",
                (list(SCHEMAS),),
            ).fetchall()
        )
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return {
        "tables": tables,
        "sequences": sequences,
        "indexes": indexes,
        "constraints": constraints,
        "rev": revision,
    }


def _server_major(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.info.server_version // 10000


def dump_tools(server_major: int) -> Path:
    """Directory of pg_dump / pg_restore for a server of that major version (same or newer client)."""
    candidates = [_bin_path(), Path(f"/usr/lib/postgresql/{server_major}/bin")]
    for directory in candidates:
        pg_dump = directory / "pg_dump"
        if pg_dump.exists():
            out = subprocess.run([str(pg_dump), "--version"], capture_output=True, text=True).stdout
            major = int(re.search(r"(\d+)\.\d+", out).group(1))
            if major >= server_major:
                return directory
    pytest.fail(f"no pg_dump for PostgreSQL {server_major} (looked in {candidates})")


def test_backup_drop_restore_gives_identical_tables(warehouse_url: str, pg_server_url: str, tmp_path) -> None:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(FILL_SQL)
        empty = [
            f"{s}.{t}"
            for s, t in _tables(conn)
            if not conn.execute(
                sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.Identifier(s, t))
            ).fetchone()[0]
        ]
    assert empty == [], f"add rows for {empty} to FILL_SQL: every table must take part in the round trip"
    before = warehouse_fingerprint(warehouse_url)
    assert len(before["tables"]) >= 13 and before["rev"] is not None

    tools = dump_tools(_server_major(warehouse_url))
    dump = tmp_path / "pwr.dump"
    # docs/deploy.md: pg_dump --format=custom (compressed, restorable table by table)
    subprocess.run(
        [str(tools / "pg_dump"), "--format=custom", "--file", str(dump), "--dbname", warehouse_url],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert dump.stat().st_size > 10_000

    name = warehouse_url.rsplit("/", 1)[1]
    drop_database(pg_server_url, name)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(warehouse_url).close()
    create_database(pg_server_url, name)
    restored = subprocess.run(
        [str(tools / "pg_restore"), "--exit-on-error", "--no-owner", "--dbname", warehouse_url, str(dump)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert restored.returncode == 0, restored.stderr

    after = warehouse_fingerprint(warehouse_url)
    assert after == before
    # and the restored warehouse keeps working: new rows get fresh ids, keys still hold
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        new_id = conn.execute(
            "INSERT INTO pwr_raw.discord_voice_events (discord_user_id, discord_guild_id, discord_channel_id,"
            " event_type, event_ts, raw_payload) VALUES (1, 811111111111111111, 2, 'join', now(), '{}') RETURNING id"
        ).fetchone()[0]
        assert new_id > before["sequences"]["pwr_raw.discord_voice_events_id_seq"]
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO pwr_raw.discord_voice_events (discord_user_id, discord_guild_id, discord_channel_id,"
                " event_type, event_ts, raw_payload) SELECT discord_user_id, discord_guild_id, discord_channel_id,"
                " event_type, event_ts, raw_payload FROM pwr_raw.discord_voice_events LIMIT 1"
            )


def test_dump_tools_match_the_server(pg_server_url: str) -> None:
    major = _server_major(pg_server_url)
    tools = dump_tools(major)
    out = subprocess.run([str(tools / "pg_restore"), "--version"], capture_output=True, text=True).stdout
    assert int(re.search(r"(\d+)\.\d+", out).group(1)) >= major
