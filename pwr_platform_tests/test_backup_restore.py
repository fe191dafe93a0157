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
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pwr_platform.ingest.records import ChannelRecord, EventCommandRecord
from pwr_platform.ingest.spool import Spool
from pwr_platform.ingest.writer import Writer
from pwr_platform.runtime.embedded_postgres import _bin_path
from pwr_platform_tests.conftest import create_database, drop_database
from pwr_platform_tests.demo_warehouse import build_demo_warehouse, pwr
from pwr_platform_tests.voice_data import refresh

SCHEMAS = ("pwr_raw", "pwr_core", "pwr_agg", "pwr_dota")

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
    log backfill with one malformed line (quarantine), sessionized (a stale day for the aggregates)."""
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
    # a Dota match document without players: pwr_dota.quarantine (the demo leagues fill the rest)
    broken_match = home / "broken_match.json"
    broken_match.write_text(
        '{"match_id": 42, "start_time": 1790000000, "duration": 2400, "radiant_win": true}'
    )
    pwr(url, home, "dota", "import", str(broken_match))
    # an ad-hoc event run from Discord (/event start, /event end) through the collector's writer,
    # and the message a weekly digest was posted as
    writer = Writer(url, spool=Spool(home / "spool", "backup-drill"))
    started = datetime(2026, 10, 4, 18, 0, tzinfo=UTC)
    for offset, action in ((0, "start"), (2, "end")):
        writer.add(
            EventCommandRecord(
                guild_id=811111111111111111,
                interaction_id=900000000000000001 + offset,
                action=action,
                external_event_id="bot:900000000000000001",
                recorded_ts=started + timedelta(hours=offset),
                organizer_id=822222222222222222,
                name="Sunday scrim" if action == "start" else None,
                event_type="scrim" if action == "start" else None,
                channel_ids=(833333333333333333,) if action == "start" else (),
            )
        )
    # a voice channel renamed while nobody was in it (a channel record, no voice event)
    writer.add(
        ChannelRecord(
            guild_id=811111111111111111,
            channel_id=833333333333333333,
            event_type="update",
            event_ts=started,
            channel_name="Scrim room",
        )
    )
    writer.close()
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO pwr_core.digest_messages (discord_guild_id, week_start_date, webhook_id, message_id, content) "
            "VALUES (811111111111111111, '2026-09-28', '1', '2', 'Week of 28 September')"
        )
    # the core refresh sessionizes the backfilled join: its day waits for the aggregates sensor
    assert refresh(url).days_marked_for_aggregates >= 1


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


def _dump(url: str, dump: Path) -> None:
    """docs/deploy.md: pg_dump --format=custom (compressed, restorable table by table)."""
    tools = dump_tools(_server_major(url))
    subprocess.run(
        [str(tools / "pg_dump"), "--format=custom", "--file", str(dump), "--dbname", url],
        check=True,
        capture_output=True,
        timeout=300,
    )


def _restore(url: str, dump: Path) -> None:
    tools = dump_tools(_server_major(url))
    restored = subprocess.run(
        [str(tools / "pg_restore"), "--exit-on-error", "--no-owner", "--dbname", url, str(dump)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert restored.returncode == 0, restored.stderr


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

    dump = tmp_path / "pwr.dump"
    _dump(warehouse_url, dump)
    assert dump.stat().st_size > 10_000

    name = warehouse_url.rsplit("/", 1)[1]
    drop_database(pg_server_url, name)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(warehouse_url).close()
    create_database(pg_server_url, name)
    _restore(warehouse_url, dump)

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


# ------------------------------------------------------------- restore onto a new server
def _users(conn: psycopg.Connection, query: str) -> list[int]:
    return [r[0] for r in conn.execute(query).fetchall()]


def test_restore_into_a_fresh_cluster_far_behind_rebuilds_in_full_and_new_rows_reach_every_table(
    tmp_path,
) -> None:
    """Issue 13, promise 5. The source cluster's transaction counter is at 67 M (pg_resetwal -x,
    as on a long-lived server); the documented pg_dump / pg_restore goes into a freshly initialised
    cluster (counter ~750). The restored watermarks and the attendance sensor cursor then name
    transaction ids from that cluster's future: new raw rows would look "already processed" and
    sessions, members, attendance and the aggregates would freeze with no error. Instead the next
    runs rebuild in full, saying why, and everything new arrives; incremental runs resume after."""
    from dagster import DagsterInstance

    from pwr_platform.defs.agg.late_data import late_data_aggregates_sensor
    from pwr_platform.defs.sensors import event_attendance_sensor
    from pwr_platform.transforms.events import refresh_events
    from pwr_platform.transforms.members import refresh_members
    from pwr_platform.transforms.sessionizer import refresh_voice_sessions
    from pwr_platform.warehouse import migrate
    from pwr_platform.warehouse.sql_runner import sql_statements
    from pwr_platform_tests.pipeline_driver import definitions, drain, execute, tick
    from pwr_platform_tests.scratch_cluster import XACTS_PER_SEGMENT, ScratchCluster
    from pwr_platform_tests.test_events import observe
    from pwr_platform_tests.voice_data import Voice, at, insert_voice

    channel = 10
    dump = tmp_path / "pwr.dump"
    instance = DagsterInstance.ephemeral()  # Dagster's storage lives on (or is restored alongside)
    source = ScratchCluster(next_xid=64 * XACTS_PER_SEGMENT)
    try:
        src = source.create_database("pwr")
        migrate.upgrade(src)
        with psycopg.connect(src, autocommit=True) as conn:
            observe(conn, 500, at(0), "completed", channel=channel)  # scheduled 19:00–20:00
            insert_voice(conn, [Voice(1, "join", at(65), channel), Voice(1, "leave", at(90), channel)])
        refresh(src)
        with psycopg.connect(src) as conn:
            refresh_events(conn)
        first = tick(event_attendance_sensor, instance, src)
        for request in first.run_requests:
            assert execute(definitions(src), instance, request).success
        drain(late_data_aggregates_sensor, definitions(src), instance, src)
        _dump(src, dump)
    finally:
        source.stop()

    target = ScratchCluster()
    try:
        url = target.create_database("pwr")
        with psycopg.connect(target.url(), autocommit=True) as conn:
            # docs: restore after a first start, whose migrations made the roles (reader and bot)
            for role in ("pwr_reader", "pwr_bot"):
                conn.execute(f"CREATE ROLE {role} NOLOGIN")
        _restore(url, dump)
        with psycopg.connect(url, autocommit=True) as conn:
            current = int(conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0])
            restored = conn.execute(
                "SELECT read_snapshot::text FROM pwr_core.transform_watermarks WHERE transform_name = 'voice_sessions'"
            ).fetchone()[0]
            assert int(restored.split(":")[1]) > current + 60_000_000  # far behind
            # new raw rows after the restore: a new member at the event, and one on a new day
            insert_voice(
                conn,
                [
                    Voice(2, "join", at(70), channel),
                    Voice(2, "leave", at(110), channel),
                    Voice(3, "join", at(hours=48), channel),
                    Voice(3, "leave", at(hours=49), channel),
                ],
            )

        lines: list[str] = []
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            members = refresh_members(conn, log=lines.append)
            sessions = refresh_voice_sessions(
                conn, max_session_hours=12, collector_gap_minutes=3, log=lines.append
            )
            refresh_events(conn)
        recovered_seconds = time.perf_counter() - started
        assert (members.mode, sessions.mode) == ("full", "full")
        why = [line for line in lines if "full rebuild because the stored watermark is unusable" in line]
        assert len(why) == 2 and all("another PostgreSQL cluster" in line for line in why), lines

        # the restored cursor is from the other cluster: the sensor starts over and requests the event
        defs = definitions(url)
        after = tick(event_attendance_sensor, instance, url, first.cursor)
        assert after.run_requests, "attendance froze: the restored cursor hid the event's change"
        for request in after.run_requests:
            assert execute(defs, instance, request).success
        ticks = drain(late_data_aggregates_sensor, defs, instance, url)
        with psycopg.connect(url) as conn:
            assert _users(conn, "SELECT discord_user_id FROM pwr_core.members ORDER BY 1") == [1, 2, 3, 7001]
            assert _users(
                conn,
                "SELECT DISTINCT m.discord_user_id FROM pwr_core.voice_sessions JOIN pwr_core.members m "
                "USING (member_id) ORDER BY 1",
            ) == [1, 2, 3]
            assert _users(
                conn,
                "SELECT m.discord_user_id FROM pwr_core.event_attendance JOIN pwr_core.members m "
                "USING (member_id) ORDER BY 1",
            ) == [1, 2]
            assert conn.execute(
                "SELECT m.discord_user_id, d.activity_date, d.total_voice_seconds FROM pwr_agg.member_voice_daily d "
                "JOIN pwr_core.members m USING (member_id) ORDER BY 2, 1"
            ).fetchall() == [
                (1, at(0).date(), 25 * 60),
                (2, at(0).date(), 40 * 60),
                (3, at(hours=48).date(), 3600),
            ]

            # and the pipeline is incremental again: one new row is one new row, and nothing
            # restored from the other cluster's "future" keeps looking new
            insert_voice(conn, [Voice(4, "join", at(hours=50), channel)])
            conn.commit()
            again = refresh(url)
            assert (again.mode, again.new_raw_users) == ("incremental", 1)
            pending = conn.execute(
                sql_statements("core_sensors")["core_inputs_pending"], {"gap_minutes": 3}
            ).fetchone()
            assert pending == (False, False, False, False, False)
    finally:
        target.stop()
    print(f"restore onto a new server: full rebuild in {recovered_seconds:.2f}s; aggregate runs: {ticks}")
