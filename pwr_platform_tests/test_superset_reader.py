"""The read-only role Superset uses (migration 0005_superset_reader) can read pwr_core / pwr_agg only."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from pwr_platform.bi.reader_role import READER_ROLE, reader_url, set_reader_password

PASSWORD = "reader-test-password-not-a-default"


@pytest.fixture
def reader_conn(warehouse_url: str, warehouse_conn: psycopg.Connection):
    set_reader_password(warehouse_url, PASSWORD)
    url = make_url(reader_url(warehouse_url, PASSWORD)).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        yield conn


def test_reader_can_select_core_and_agg(reader_conn: psycopg.Connection, warehouse_conn: psycopg.Connection):
    warehouse_conn.execute(
        "INSERT INTO pwr_core.members (discord_user_id, first_seen_ts, display_name) VALUES (1, now(), 'Ada')"
    )
    assert reader_conn.execute("SELECT display_name FROM pwr_core.members").fetchall() == [("Ada",)]
    assert reader_conn.execute("SELECT count(*) FROM pwr_agg.member_voice_daily").fetchone() == (0,)


def test_reader_cannot_write_even_outside_read_only_mode(reader_conn: psycopg.Connection):
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        reader_conn.execute("INSERT INTO pwr_core.members (discord_user_id, first_seen_ts) VALUES (2, now())")
    # the role's sessions are read-only by default; without that, the privileges still refuse
    reader_conn.execute("SET default_transaction_read_only = off")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_conn.execute("INSERT INTO pwr_core.members (discord_user_id, first_seen_ts) VALUES (2, now())")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_conn.execute("DELETE FROM pwr_agg.member_voice_daily")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_conn.execute("CREATE TABLE pwr_agg.sneaky (x int)")


def test_reader_cannot_read_raw(reader_conn: psycopg.Connection, warehouse_conn: psycopg.Connection):
    for table in ("discord_voice_events", "discord_member_events", "rejected_voice_events"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader_conn.execute(
                f"SELECT raw_payload FROM pwr_raw.{table} LIMIT 1"
                if table != "rejected_voice_events"
                else f"SELECT raw_text FROM pwr_raw.{table} LIMIT 1"
            )
    granted = warehouse_conn.execute(
        "SELECT count(*) FROM information_schema.role_table_grants "
        "WHERE grantee = %s AND table_schema = 'pwr_raw'",
        (READER_ROLE,),
    ).fetchone()
    assert granted == (0,)


def test_objects_created_later_are_readable(
    reader_conn: psycopg.Connection, warehouse_conn: psycopg.Connection
):
    """Default privileges: the aggregates' dashboard views/tables, created after the migration, are readable."""
    warehouse_conn.execute("CREATE VIEW pwr_agg.later_view AS SELECT 1 AS x")
    warehouse_conn.execute("CREATE TABLE pwr_core.later_table AS SELECT 2 AS y")
    assert reader_conn.execute("SELECT x FROM pwr_agg.later_view").fetchone() == (1,)
    assert reader_conn.execute("SELECT y FROM pwr_core.later_table").fetchone() == (2,)
    warehouse_conn.execute("CREATE TABLE pwr_raw.later_raw AS SELECT 3 AS z")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_conn.execute("SELECT z FROM pwr_raw.later_raw")


def test_reader_role_can_log_in_and_is_not_a_superuser(warehouse_conn: psycopg.Connection):
    # (its password is set at run time by `pwr superset`, never by the migration; roles are
    # cluster-wide, so whether one is set here depends on other tests and is not asserted)
    row = warehouse_conn.execute(
        "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s", (READER_ROLE,)
    ).fetchone()
    assert row == (True, False)
