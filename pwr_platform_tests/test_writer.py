"""The writer loses nothing and duplicates nothing: PostgreSQL really stopped and restarted
mid-stream, a crash between spool and insert, orphaned spools of dead processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pwr_platform.ingest.records import HeartbeatRecord, RejectedRecord, VoiceRecord, voice_payload
from pwr_platform.ingest.spool import Spool
from pwr_platform.ingest.writer import QueueWriter, WarehouseUnavailable, Writer
from pwr_platform.runtime.embedded_postgres import EmbeddedPostgres
from pwr_platform.warehouse import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
GUILD = 811111111111111111
T0 = datetime(2026, 10, 1, 18, 0, tzinfo=UTC)


def voice(i: int, event_type: str = "join") -> VoiceRecord:
    return voice_payload(
        event_type, T0 + timedelta(seconds=i), GUILD, 1000 + i % 37, 500 + i % 5, source="bot"
    )


def stored_keys(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT discord_user_id, event_ts, event_type, discord_channel_id FROM pwr_raw.discord_voice_events"
        ).fetchall()


def expected_keys(records: list[VoiceRecord]) -> list[tuple]:
    return [(r.user_id, r.event_ts, r.event_type, r.channel_id) for r in records]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_server():
    """A PostgreSQL server of this test's own, which the test may stop and start.

    Its data lives under the checkout's ``.pwr/`` (like the suite's own test server), not in
    pytest's tmp_path: as root the server runs as a system user, and every pytest session start
    resets ``/tmp/pytest-of-root`` to mode 0700, which would lock that user out mid-test.
    """
    base = REPO_ROOT / ".pwr" / "test-own-servers" / uuid.uuid4().hex[:12]
    server = EmbeddedPostgres(pgdata=base / "pgdata", port=free_port(), secrets_dir=base / "secrets")
    try:
        server.start()
        migrate.upgrade(server.url("postgres"))
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_postgres_stopped_and_restarted_while_events_flow(
    own_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    url = own_server.url("postgres")
    records = [voice(i, ("join", "move", "leave")[i % 3]) for i in range(3000)]

    async def flow() -> Writer:
        with Spool(tmp_path / "spool", "bot") as spool:
            writer = Writer(url, spool=spool, batch_size=200, retry_interval=0.2, connect_timeout=2)
            sink = QueueWriter(writer, batch_size=200, flush_interval=0.05)
            task = asyncio.create_task(sink.run())
            for i, record in enumerate(records):
                sink.put(record)
                if i % 100 == 0:
                    await asyncio.sleep(0.02)  # let the writer flush as events arrive
                if i == 1000:
                    await asyncio.to_thread(own_server.stop)  # really stopped: fast shutdown
                if i == 2000:
                    assert spool.pending, "events arriving while PostgreSQL is down must be spooled"
                    await asyncio.to_thread(own_server.start)
            sink.request_stop()
            await task
            await sink.close()
            assert await asyncio.to_thread(writer.close, 30.0), "spool must drain once PostgreSQL is back"
            assert not spool.segments()
            return writer

    writer = asyncio.run(flow())
    assert writer.stats.spooled > 0 and writer.stats.replayed == writer.stats.spooled
    keys = stored_keys(url)
    assert len(keys) == len(set(keys)) == 3000  # exactly once
    assert sorted(keys) == sorted(expected_keys(records))


def test_without_spool_an_unreachable_database_is_an_error() -> None:
    writer = Writer(f"postgresql://postgres@127.0.0.1:{free_port()}/x", connect_timeout=1)
    with pytest.raises(WarehouseUnavailable):
        writer.write_batch([voice(1)])


def test_crash_between_commit_and_spool_cleanup_duplicates_nothing(
    warehouse_url: str, tmp_path: Path
) -> None:
    records = [voice(i) for i in range(500)]
    spool = Spool(tmp_path, "ingest").open()
    spool.append(records[:300])
    spool.append(records[300:])
    # The previous process committed the rows, then died before deleting the segment.
    first = Writer(warehouse_url, batch_size=120)
    first.write_batch(records)
    writer = Writer(warehouse_url, spool=spool, batch_size=120)
    assert writer.drain_spool(force=True)
    spool.close()
    assert writer.stats.duplicates["voice"] == 500 and writer.stats.inserted["voice"] == 0
    keys = stored_keys(warehouse_url)
    assert len(keys) == len(set(keys)) == 500


def test_orphaned_spool_of_a_dead_process_is_adopted_and_replayed(warehouse_url: str, tmp_path: Path) -> None:
    records = [voice(i) for i in range(250)]
    dead = Spool(tmp_path, "bot").open()
    dead.append(records[:100])
    dead.append([HeartbeatRecord(GUILD, "run-x", T0), RejectedRecord("bot", None, "{oops", "bad JSON: x")])
    dead.append(records[100:])
    dead.seal()
    # A torn last write (the process died inside write()): never acknowledged, so not stored as
    # a record, but its bytes are kept in quarantine rather than thrown away.
    with open(dead.segments()[-1], "ab") as fh:
        fh.write(b'["voice", "join", "2026-10-0')
    os.close(dead._lock_fd)  # the process dies: its lock is released, its files stay

    with Spool(tmp_path, "ingest") as spool:
        assert spool.pending_records == 253
        writer = Writer(warehouse_url, spool=spool)
        assert writer.drain_spool(force=True)
    assert [p.name for p in tmp_path.iterdir()] == []  # both directories cleaned up
    assert sorted(stored_keys(warehouse_url)) == sorted(expected_keys(records))
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM pwr_raw.collector_heartbeats").fetchone()[0] == 1
        rejected = conn.execute(
            "SELECT source, raw_text, reason FROM pwr_raw.rejected_voice_events ORDER BY id"
        ).fetchall()
    assert rejected[0] == ("bot", "{oops", "bad JSON: x")
    assert rejected[1][:2] == ("spool", '["voice", "join", "2026-10-0')
    assert "incomplete write" in rejected[1][2]


def test_live_spool_is_not_adopted(tmp_path: Path) -> None:
    with Spool(tmp_path, "bot") as live:
        live.append([voice(1)])
        with Spool(tmp_path, "ingest") as other:
            assert other.pending_records == 0
        assert live.pending_records == 1 and live.segments()


def test_replays_are_idempotent_and_first_copy_wins(warehouse_url: str) -> None:
    a = voice(1)
    same_instant_other_offset = VoiceRecord(
        a.event_type,
        a.event_ts.astimezone(datetime.now().astimezone().tzinfo),
        a.guild_id,
        a.user_id,
        a.channel_id,
        '{"copy": "second"}',
    )
    writer = Writer(warehouse_url)
    writer.write_batch([a, same_instant_other_offset, voice(2)])
    writer.write_batch([a, voice(2)])
    assert writer.stats.inserted["voice"] == 2 and writer.stats.duplicates["voice"] == 3
    with psycopg.connect(warehouse_url) as conn:
        payloads = conn.execute("SELECT raw_payload->>'source' FROM pwr_raw.discord_voice_events").fetchall()
    assert payloads == [("bot",), ("bot",)]


def test_content_refused_by_postgres_is_quarantined_not_blocking(warehouse_url: str) -> None:
    bad = voice(3)
    bad.payload = '{"text": "nul \\u0000 here"}'  # valid JSON, but jsonb refuses U+0000
    writer = Writer(warehouse_url)
    writer.write_batch([voice(1), bad, voice(2)])
    assert writer.stats.inserted["voice"] == 2 and writer.stats.refused_by_db == 1
    with psycopg.connect(warehouse_url) as conn:
        [(source, reason)] = conn.execute(
            "SELECT source, reason FROM pwr_raw.rejected_voice_events"
        ).fetchall()
    assert source == "writer" and "refused by PostgreSQL" in reason
