"""The Alembic migrations build exactly the seed design's tables (plus the + additions)."""

from __future__ import annotations

import psycopg
import pytest

from pwr_platform.warehouse import migrate

# (schema, table) -> {column: (data_type, is_nullable)} as the seed design fixes them.
SEED_COLUMNS = {
    ("pwr_raw", "discord_voice_events"): {
        "id": ("bigint", "NO"),
        "discord_user_id": ("bigint", "NO"),
        "discord_guild_id": ("bigint", "NO"),
        "discord_channel_id": ("bigint", "NO"),
        "event_type": ("text", "NO"),
        "event_ts": ("timestamp with time zone", "NO"),
        "raw_payload": ("jsonb", "NO"),
        "ingested_at": ("timestamp with time zone", "NO"),
    },
    ("pwr_core", "members"): {
        "member_id": ("bigint", "NO"),
        "discord_user_id": ("bigint", "NO"),
        "first_seen_ts": ("timestamp with time zone", "NO"),
        "last_seen_ts": ("timestamp with time zone", "YES"),
        "is_active": ("boolean", "NO"),
        "display_name": ("text", "YES"),
        "username": ("text", "YES"),
        "join_date": ("timestamp with time zone", "YES"),
        "leave_date": ("timestamp with time zone", "YES"),
    },
    ("pwr_core", "voice_sessions"): {
        "session_id": ("bigint", "NO"),
        "member_id": ("bigint", "NO"),
        "discord_guild_id": ("bigint", "NO"),
        "discord_channel_id": ("bigint", "NO"),
        "session_start_ts": ("timestamp with time zone", "NO"),
        "session_end_ts": ("timestamp with time zone", "YES"),
        "duration_seconds": ("integer", "YES"),
        "is_completed": ("boolean", "NO"),
        "close_reason": ("text", "YES"),
    },
    ("pwr_core", "events"): {
        "event_id": ("bigint", "NO"),
        "external_event_id": ("text", "YES"),
        "name": ("text", "NO"),
        "description": ("text", "YES"),
        "event_type": ("text", "YES"),
        "scheduled_start_ts": ("timestamp with time zone", "NO"),
        "scheduled_end_ts": ("timestamp with time zone", "YES"),
        "actual_start_ts": ("timestamp with time zone", "YES"),
        "actual_end_ts": ("timestamp with time zone", "YES"),
        "host_member_id": ("bigint", "YES"),
        "status": ("text", "NO"),
    },
    ("pwr_core", "event_channels"): {
        "event_id": ("bigint", "NO"),
        "discord_channel_id": ("bigint", "NO"),
    },
    ("pwr_core", "event_attendance"): {
        "event_id": ("bigint", "NO"),
        "member_id": ("bigint", "NO"),
        "first_join_ts": ("timestamp with time zone", "YES"),
        "last_leave_ts": ("timestamp with time zone", "YES"),
        "total_voice_seconds": ("integer", "YES"),
        "joined_on_time": ("boolean", "YES"),
    },
    ("pwr_agg", "member_voice_daily"): {
        "activity_date": ("date", "NO"),
        "member_id": ("bigint", "NO"),
        "total_sessions": ("integer", "NO"),
        "total_voice_seconds": ("bigint", "NO"),
    },
    ("pwr_agg", "member_engagement_weekly"): {
        "week_start_date": ("date", "NO"),
        "member_id": ("bigint", "NO"),
        "total_voice_seconds": ("bigint", "NO"),
        "events_attended": ("integer", "NO"),
        "distinct_event_types": ("integer", "NO"),
    },
    ("pwr_agg", "member_monthly_status"): {
        "month_start_date": ("date", "NO"),
        "member_id": ("bigint", "NO"),
        "was_active": ("boolean", "NO"),
    },
    ("pwr_raw", "rejected_voice_events"): {
        "id": ("bigint", "NO"),
        "source": ("text", "NO"),
        "raw_text": ("text", "NO"),
        "reason": ("text", "NO"),
    },
    ("pwr_raw", "discord_member_events"): {
        "discord_guild_id": ("bigint", "NO"),
        "discord_user_id": ("bigint", "NO"),
        "event_type": ("text", "NO"),
        "event_ts": ("timestamp with time zone", "NO"),
        "joined_at": ("timestamp with time zone", "YES"),
    },
    ("pwr_raw", "discord_scheduled_events"): {
        "discord_event_id": ("bigint", "NO"),
        "observed_ts": ("timestamp with time zone", "NO"),
        "status": ("text", "NO"),
        "scheduled_start_ts": ("timestamp with time zone", "NO"),
    },
    ("pwr_raw", "collector_heartbeats"): {
        "discord_guild_id": ("bigint", "NO"),
        "collector_run_id": ("text", "NO"),
        "heartbeat_ts": ("timestamp with time zone", "NO"),
    },
}

PRIMARY_KEYS = {
    ("pwr_raw", "discord_voice_events"): ["id"],
    ("pwr_core", "members"): ["member_id"],
    ("pwr_core", "voice_sessions"): ["session_id"],
    ("pwr_core", "events"): ["event_id"],
    ("pwr_core", "event_attendance"): ["event_id", "member_id"],
    ("pwr_agg", "member_voice_daily"): ["activity_date", "member_id"],
    ("pwr_agg", "member_engagement_weekly"): ["week_start_date", "member_id"],
    ("pwr_agg", "member_monthly_status"): ["month_start_date", "member_id"],
}

FOREIGN_KEYS = {
    ("pwr_core", "voice_sessions", "member_id", "members"),
    ("pwr_core", "events", "host_member_id", "members"),
    ("pwr_core", "event_attendance", "event_id", "events"),
    ("pwr_core", "event_attendance", "member_id", "members"),
    ("pwr_agg", "member_voice_daily", "member_id", "members"),
    ("pwr_agg", "member_engagement_weekly", "member_id", "members"),
    ("pwr_agg", "member_monthly_status", "member_id", "members"),
}


def _columns(conn: psycopg.Connection, schema: str, table: str) -> dict[str, tuple[str, str]]:
    rows = conn.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    ).fetchall()
    return {name: (dtype, nullable) for name, dtype, nullable in rows}


def test_migrations_apply_to_empty_database_and_again_as_noop(empty_database_url: str) -> None:
    assert migrate.current_revision(empty_database_url) is None
    migrate.upgrade(empty_database_url)
    head = migrate.head_revision()
    assert migrate.current_revision(empty_database_url) == head
    with psycopg.connect(empty_database_url) as conn:
        before = conn.execute("SELECT count(*) FROM pg_class").fetchone()[0]
    migrate.upgrade(empty_database_url)  # second run: nothing to do, nothing changes
    assert migrate.current_revision(empty_database_url) == head
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_class").fetchone()[0] == before


def test_downgrade_to_base_and_up_again(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    migrate.downgrade(empty_database_url, "base")
    with psycopg.connect(empty_database_url) as conn:
        schemas = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'pwr_%'"
        ).fetchone()[0]
    assert schemas == 0
    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()


@pytest.mark.parametrize(("schema", "table"), sorted(SEED_COLUMNS))
def test_every_seed_column_has_its_type(warehouse_conn: psycopg.Connection, schema: str, table: str) -> None:
    actual = _columns(warehouse_conn, schema, table)
    for column, expected in SEED_COLUMNS[(schema, table)].items():
        assert actual.get(column) == expected, (
            f"{schema}.{table}.{column}: {actual.get(column)} != {expected}"
        )


def test_primary_keys(warehouse_conn: psycopg.Connection) -> None:
    for (schema, table), columns in PRIMARY_KEYS.items():
        rows = warehouse_conn.execute(
            """
            SELECT a.attname FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = %s::regclass AND i.indisprimary
            ORDER BY array_position(i.indkey, a.attnum)
            """,
            (f"{schema}.{table}",),
        ).fetchall()
        assert [r[0] for r in rows] == columns, f"{schema}.{table}"


def test_foreign_keys(warehouse_conn: psycopg.Connection) -> None:
    rows = warehouse_conn.execute(
        """
        SELECT ns.nspname, cl.relname, a.attname, ref.relname
        FROM pg_constraint c
        JOIN pg_class cl ON cl.oid = c.conrelid
        JOIN pg_namespace ns ON ns.oid = cl.relnamespace
        JOIN pg_class ref ON ref.oid = c.confrelid
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f'
        """
    ).fetchall()
    assert set(rows) >= FOREIGN_KEYS


def test_raw_natural_key_rejects_same_instant_in_another_offset(warehouse_conn: psycopg.Connection) -> None:
    insert = (
        "INSERT INTO pwr_raw.discord_voice_events "
        "(discord_user_id, discord_guild_id, discord_channel_id, event_type, event_ts, raw_payload) "
        "VALUES (1, 2, 3, 'join', %s, '{}') ON CONFLICT DO NOTHING"
    )
    warehouse_conn.execute(insert, ("2026-11-01T19:00:00Z",))
    warehouse_conn.execute(insert, ("2026-11-01T20:00:00+01:00",))  # same instant
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_raw.discord_voice_events").fetchone()[0] == 1


def test_members_discord_user_id_unique(warehouse_conn: psycopg.Connection) -> None:
    warehouse_conn.execute("INSERT INTO pwr_core.members (discord_user_id, first_seen_ts) VALUES (7, now())")
    with pytest.raises(psycopg.errors.UniqueViolation):
        warehouse_conn.execute(
            "INSERT INTO pwr_core.members (discord_user_id, first_seen_ts) VALUES (7, now())"
        )


def test_voice_sessions_is_partitioned_by_id_ranges_and_0007_goes_back_and_forth_with_its_rows(
    empty_database_url: str,
) -> None:
    from pwr_platform_tests.voice_data import Voice, at, insert_voice, refresh, stored_sessions

    migrate.upgrade(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        key = "SELECT pg_get_partkeydef('pwr_core.voice_sessions'::regclass)"
        assert conn.execute(key).fetchone() == ("RANGE (session_id)",)
        insert_voice(
            conn, [Voice(1, "join", at(0), 10), Voice(1, "leave", at(5), 10), Voice(2, "join", at(1), 10)]
        )
        refresh(empty_database_url)
        sessions = stored_sessions(conn)
        assert len(sessions) == 2
    migrate.downgrade(empty_database_url, "0006_sessions_start_channel")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT relkind FROM pg_class WHERE oid = 'pwr_core.voice_sessions'::regclass"
        ).fetchone() == ("r",)
        assert stored_sessions(conn) == sessions
    migrate.upgrade(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert stored_sessions(conn) == sessions
        assert conn.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'pwr_core.voice_sessions'::regclass"
        ).fetchall() == [("voice_sessions_from_min", "FOR VALUES FROM (MINVALUE) TO (MAXVALUE)")]
