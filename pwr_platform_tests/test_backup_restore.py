"""Backup → drop → restore of a warehouse gives identical tables (docs/deploy.md, "Backup and restore").

The warehouse is a simulated community (``pwr simulate``, every asset materialized through
Dagster, plus an event imported and completed with ``pwr events``), so every table has rows;
every table is checksummed (md5 of its
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
from pwr_platform_tests.demo_warehouse import build_demo_warehouse, pwr

SCHEMAS = ("pwr_raw", "pwr_core", "pwr_agg")

# Events run without Discord's scheduled-events feature: `pwr events import` / `complete` fill
# the manual-event tables the simulator does not touch.
EVENTS_CSV = (
    "external_event_id,name,event_type,description,scheduled_start_ts,scheduled_end_ts,actual_start_ts,"
    "actual_end_ts,host_discord_user_id,channel_ids,status\n"
    "lan-2026,LAN party,meeting,Yearly LAN,2026-10-03T18:00:00+02:00,2026-10-03T23:00:00+02:00,,,"
    ",833333333333333333,scheduled\n"
)


def fill_every_table(url: str, home: Path) -> None:
    """A simulated warehouse, materialized through Dagster, an imported and completed event, and a
    log backfill with one malformed line (quarantine)."""
    build_demo_warehouse(url, home, members=40, days=45, seed=3)
    events_file = home / "events.csv"
    events_file.write_text(EVENTS_CSV)
    pwr(url, home, "events", "import", str(events_file))
    pwr(url, home, "events", "complete", "lan-2026", "--at", "2026-10-03T23:30:00+02:00")
    backfill = home / "backfill.jsonl"
    backfill.write_text(
        '{"event_type": "join", "event_ts": "2026-10-03T18:02:00+02:00", "discord_guild_id": "811111111111111111",'
        ' "discord_user_id": "822222222222222222", "discord_channel_id": "833333333333333333"}\n'
        '{"event_type": "dance", "event_ts": "2026-10-03T18:03:00Z"}\n'
    )
    pwr(url, home, "ingest", str(backfill))  # the second line goes to quarantine


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
    fill_every_table(warehouse_url, tmp_path / "home")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        empty = [
            f"{s}.{t}"
            for s, t in _tables(conn)
            if not conn.execute(
                sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.Identifier(s, t))
            ).fetchone()[0]
        ]
    assert empty == [], f"add rows for {empty} to fill_every_table: every table must take part"
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
