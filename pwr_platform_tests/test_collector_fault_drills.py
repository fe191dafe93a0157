"""Fault drills for the collector (issue 13, promises 1–4 and the writer half of 9).

Each drill causes the fault for real — a database made read-only under the running bot, a lock
held on the raw table, a file-size limit hit mid-append, PostgreSQL stopped, a garbage line in a
spool segment, SIGTERM to the process — and then counts: every dispatched or written record is
in PostgreSQL exactly once (or in quarantine with its bytes and reason), none lost, none twice.
Where the promise is about the running process, the real ``pwr bot`` runs against the local
Discord gateway (:mod:`pwr_platform_tests.discord_gateway`), configured by ``PWR_*`` settings only.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pwr_platform.ingest.records import ChannelRecord, MemberRecord, ScheduledEventRecord
from pwr_platform.ingest.spool import Spool, read_line
from pwr_platform.ingest.writer import SessionLimits, Writer
from pwr_platform.runtime.embedded_postgres import EmbeddedPostgres
from pwr_platform.warehouse.connection import with_database
from pwr_platform_tests.conftest import REPO_ROOT
from pwr_platform_tests.discord_gateway import LocalDiscord, channel, guild, local_discord, member
from pwr_platform_tests.test_writer import GUILD, free_port, own_server, voice  # noqa: F401 - fixture

GENERAL, SQUAD = 101, 102
FIRST_USER = 10_000


def quiet_guild() -> dict:
    """A guild nobody is in voice in: the bot's ready snapshot records no voice events, so the
    voice rows after a drill are exactly the dispatched ones."""
    return guild(
        GUILD,
        voice_channels=[(GENERAL, 2, "General"), (SQUAD, 2, "Squad")],
        members=[member(1, "ada")],
    )


class BotProcess:
    """The real ``pwr bot``, configured by PWR_* settings only, its log in ``home/bot.log``."""

    def __init__(self, discord: LocalDiscord, home: Path, database_url: str, **settings: str) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PWR_")}
        self.env.update(discord.bot_settings())
        self.env.update({"PWR_HOME": str(home), "PWR_DATABASE_URL": database_url, **settings})
        self.log_path = home / "bot.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> BotProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "a")  # noqa: SIM115 - handed to the child process
        self.proc = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "pwr"), "bot"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def signal(self, signum: int = signal.SIGTERM, timeout: float = 90) -> int:
        assert self.proc is not None
        self.proc.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float = 90) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"pwr bot did not exit within {timeout}s:\n{self.log()}") from None

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the bot's on_ready reconciliation ran (discord.py fires on_ready a couple of
        seconds after GUILD_CREATE); events dispatched before it would also be in its snapshot."""
        wait_for(lambda: "reconciliation recorded" in self.log(), timeout, "pwr bot ready")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def health(self, **settings: str) -> subprocess.CompletedProcess:
        """The bot container's compose health check (``docker/bin/healthcheck-bot``), run here."""
        env = self.env | settings
        env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}"
        script = REPO_ROOT / "docker" / "bin" / "healthcheck-bot"
        return subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=120)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def dispatch_joins(discord: LocalDiscord, first: int, count: int) -> int:
    """``count`` distinct members each join General; the last sequence number."""
    seq = 0
    for uid in range(first, first + count):
        seq = discord.dispatch_voice(uid, f"m{uid}", GENERAL)
    return seq


def voice_users(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT discord_user_id FROM pwr_raw.discord_voice_events WHERE event_type = 'join'"
            )
        ]


def spooled_voice_users(spool_root: Path) -> list[int]:
    users = []
    for segment in sorted(spool_root.glob("*/*.jsonl")):
        with open(segment, "rb") as fh:
            for n, line in enumerate(fh, start=1):
                record = read_line(line, f"{segment}:{n}")
                assert record.KIND != "rejected", f"unreadable spool line {segment}:{n}"
                if record.KIND == "voice":
                    users.append(record.user_id)
    return users


def replay_spool(spool_root: Path, url: str) -> Writer:
    """What the next writer to start does: adopt the spool left behind and replay it."""
    with Spool(spool_root, "replay") as spool:
        writer = Writer(url, spool=spool, retry_interval=0.2)
        assert writer.close(drain_timeout=30), "the spool must replay into a working PostgreSQL"
    return writer


def wait_for(condition, timeout: float, what: str) -> float:
    """Seconds until ``condition()`` held."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - started


# -- promise 3: stopping is graceful ------------------------------------------------------------------


def test_sigterm_with_a_full_queue_and_postgres_up_writes_every_dispatched_event(
    warehouse_url: str, tmp_path: Path
) -> None:
    """The writer is stuck behind a lock, the bounded queue is full and overflowing to the spool,
    and SIGTERM arrives: after exit every dispatched event is in PostgreSQL, exactly once."""
    n = 1500
    with local_discord(quiet_guild()) as discord:
        bot = BotProcess(
            discord,
            tmp_path / "home",
            warehouse_url,
            PWR_BOT_QUEUE_MAX="200",
            PWR_WRITER_LOCK_TIMEOUT_SECONDS="120",
        )
        locker = psycopg.connect(warehouse_url)
        try:
            bot.start()
            discord.wait_connected()
            bot.wait_ready()
            locker.execute("LOCK TABLE pwr_raw.discord_voice_events IN ACCESS EXCLUSIVE MODE")
            discord.wait_processed(dispatch_joins(discord, FIRST_USER, n))
            threading.Timer(1.5, locker.commit).start()  # the lock goes away while the bot drains
            code = bot.signal(signal.SIGTERM)
        finally:
            bot.kill()
            locker.close()
    log = bot.log()
    assert code == 0, log
    assert "overflowed to the spool" in log, "a full queue must overflow to the spool"
    users = voice_users(warehouse_url)
    assert len(users) == len(set(users)) == n, (
        f"lost {n - len(set(users))}, duplicates {len(users) - len(set(users))}"
    )
    assert set(users) == set(range(FIRST_USER, FIRST_USER + n))
    assert spooled_voice_users(tmp_path / "home" / "spool") == []


def test_sigterm_with_postgres_down_spools_every_dispatched_event_and_replay_gives_exactly_them(
    own_server: EmbeddedPostgres,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    n = 1000
    url = own_server.url("postgres")
    spool_root = tmp_path / "home" / "spool"
    with local_discord(quiet_guild()) as discord:
        bot = BotProcess(discord, tmp_path / "home", url, PWR_BOT_STOP_DRAIN_SECONDS="2")
        try:
            bot.start()
            discord.wait_connected()
            bot.wait_ready()
            own_server.stop()
            discord.wait_processed(dispatch_joins(discord, FIRST_USER, n))
            code = bot.signal(signal.SIGTERM)
        finally:
            bot.kill()
    assert code == 0, bot.log()
    spooled = spooled_voice_users(spool_root)
    assert sorted(spooled) == list(range(FIRST_USER, FIRST_USER + n)), (
        "every dispatched event is spooled once"
    )

    own_server.start()
    started = time.monotonic()
    replay_spool(spool_root, url)
    recovered = time.monotonic() - started
    users = voice_users(url)
    assert sorted(users) == list(range(FIRST_USER, FIRST_USER + n))  # lost 0, duplicates 0
    print(f"\nSIGTERM with PostgreSQL down: {n} events, lost 0, duplicates 0, replayed in {recovered:.2f}s")


def test_gateway_dropped_mid_stream_is_resumed_and_nothing_sent_after_the_drop_is_lost(
    warehouse_url: str, tmp_path: Path
) -> None:
    """The local gateway's RESUME, which the drills rely on: events sent while the bot was cut
    off arrive on resume, once."""
    with local_discord(quiet_guild()) as discord:
        bot = BotProcess(discord, tmp_path / "home", warehouse_url)
        try:
            bot.start()
            discord.wait_connected()
            bot.wait_ready()
            discord.wait_processed(dispatch_joins(discord, FIRST_USER, 50))
            discord.drop_connection()
            last = dispatch_joins(discord, FIRST_USER + 50, 50)  # sent while the bot is cut off
            discord.wait_connected()
            discord.wait_processed(last)
            wait_for(lambda: len(voice_users(warehouse_url)) >= 100, 60, "all 100 events committed")
            code = bot.signal(signal.SIGTERM)
        finally:
            bot.kill()
    assert code == 0, bot.log()
    assert (discord.identifies, discord.resumes) == (1, 1)
    assert sorted(voice_users(warehouse_url)) == list(range(FIRST_USER, FIRST_USER + 100))


# -- promise 1: the collector never keeps running while recording nothing ----------------------------


def test_database_made_read_only_spools_then_exits_non_zero_and_the_restarted_bot_replays_everything(
    warehouse_url: str, tmp_path: Path
) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(warehouse_url)["dbname"]
    admin_url = with_database(warehouse_url, "postgres")
    settings = {"PWR_BOT_GIVE_UP_SECONDS": "8"}
    home = tmp_path / "home"
    with local_discord(quiet_guild()) as discord:
        bot = BotProcess(discord, home, warehouse_url, **settings)
        try:
            bot.start()
            discord.wait_connected()
            bot.wait_ready()
            discord.wait_processed(dispatch_joins(discord, FIRST_USER, 100))
            wait_for(lambda: len(voice_users(warehouse_url)) == 100, 30, "first 100 events committed")
            healthy = bot.health()
            assert healthy.returncode == 0, healthy.stderr

            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND application_name = 'pwr-ingest-writer'",
                    (dbname,),
                )
            discord.wait_processed(dispatch_joins(discord, FIRST_USER + 100, 100))
            time.sleep(3)
            sick = bot.health(PWR_BOT_HEALTH_MAX_COMMIT_AGE_SECONDS="2")
            assert sick.returncode == 1 and "read-only" in sick.stderr, sick.stderr
            code = bot.wait(120)  # gives up by itself
        finally:
            bot.kill()
        log = bot.log()
        assert code == 3, log
        assert "CRITICAL" in log and "WRITER FAILED" in log and "read-only transaction" in log
        assert len(voice_users(warehouse_url)) == 100
        assert sorted(spooled_voice_users(home / "spool")) == list(range(FIRST_USER + 100, FIRST_USER + 200))

        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" RESET default_transaction_read_only')
        restarted = BotProcess(discord, home, warehouse_url, **settings)
        try:
            restarted.start()
            recovered = wait_for(lambda: len(voice_users(warehouse_url)) >= 200, 60, "spool replayed")
            discord.wait_processed(dispatch_joins(discord, FIRST_USER + 200, 10))
            code = restarted.signal(signal.SIGTERM)
        finally:
            restarted.kill()
    assert code == 0, restarted.log()
    users = voice_users(warehouse_url)
    assert sorted(users) == list(range(FIRST_USER, FIRST_USER + 210))  # lost 0, duplicates 0
    print(f"\nread-only database: 210 events, lost 0, duplicates 0, recovered {recovered:.1f}s after restart")


# -- promise 4: a hung database is a down database ---------------------------------------------------


@pytest.mark.parametrize("limit", ["lock_timeout", "statement_timeout"])
def test_lock_held_on_the_raw_table_times_out_spools_and_replays_once_released(
    warehouse_url: str, tmp_path: Path, limit: str
) -> None:
    limits = SessionLimits(**{"lock_timeout": 0.0, "statement_timeout": 0.0, limit: 0.5})
    records = [voice(i) for i in range(100)]
    with Spool(tmp_path, "bot") as spool:
        writer = Writer(warehouse_url, spool=spool, limits=limits, retry_interval=0.1)
        writer.check_connection()
        dsn = writer._connection().info.dsn
        assert "keepalives=1" in dsn and "tcp_user_timeout=30000" in dsn
        with psycopg.connect(warehouse_url) as locker:
            locker.execute("LOCK TABLE pwr_raw.discord_voice_events IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            writer.write_batch(records)
            assert time.monotonic() - started < 5, "the write must give up, not hang"
            assert spool.pending_records == 100 and writer.failure and writer.failure.kind == "unreachable"
            assert not writer.drain_spool(force=True), "still locked: still spooled"
        assert writer.drain_spool(force=True) and not spool.pending
    assert sorted(voice_users(warehouse_url)) == sorted(r.user_id for r in records if r.event_type == "join")
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM pwr_raw.discord_voice_events").fetchone()[0] == 100


# -- promise 2: a torn spool never wedges ingestion ---------------------------------------------------

DISK_FULL_WRITER = """
import json, os, resource, signal, sys
from datetime import UTC, datetime, timedelta
from pwr_platform.ingest.records import voice_payload
from pwr_platform.ingest.spool import Spool, SpoolWriteFailed
from pwr_platform.ingest.writer import Writer

root, url, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
t0 = datetime(2026, 10, 1, tzinfo=UTC)
batches = [[voice_payload("join", t0 + timedelta(seconds=b * 50 + i), 1, b * 50 + i, 5, source="bot")
            for i in range(50)] for b in range(12)]
failures = 0
with Spool(root, "bot") as spool:
    writer = Writer(url, spool=spool, connect_timeout=1)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))  # the disk is full
    held = []
    for batch in batches[:8]:
        try:
            writer.write_batch(held + batch)
            held = []
        except SpoolWriteFailed:
            failures += 1
            held = held + batch  # not acknowledged: the caller keeps it, as the bot does
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # space freed
    for batch in [held] + batches[8:]:
        writer.write_batch(batch)
    print(json.dumps({"failures": failures, "spooled": spool.pending_records}))
"""


def run_with_a_full_disk(script: str, spool_root: Path, file_size_limit: int) -> tuple[dict, str]:
    """Run a writer ``script`` in a child process whose files may not grow past the limit
    (RLIMIT_FSIZE: a full disk for that process alone), against a PostgreSQL that is not there
    (nothing listens on the port: to a client, a stopped server). Its JSON report and its log."""
    stopped = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    done = subprocess.run(
        [sys.executable, "-c", script, str(spool_root), stopped, str(file_size_limit)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def test_disk_full_on_the_spool_with_postgres_stopped_leaves_nothing_torn_and_loses_nothing(
    warehouse_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "spool"
    outcome, stderr = run_with_a_full_disk(DISK_FULL_WRITER, root, 60_000)
    assert outcome["failures"] >= 2, "the file-size limit must really have been hit"
    assert outcome["spooled"] == 600
    assert "cut back to its last good record" in stderr
    assert sorted(spooled_voice_users(root)) == list(range(600))  # every line readable, none torn

    writer = replay_spool(root, warehouse_url)
    assert writer.stats.replayed == 600
    assert sorted(voice_users(warehouse_url)) == list(range(600))
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM pwr_raw.rejected_voice_events").fetchone()[0] == 0


DISK_FULL_BOT_WRITER = """
import asyncio, json, resource, signal, sys
from datetime import UTC, datetime, timedelta
from pwr_platform.ingest.records import voice_payload
from pwr_platform.ingest.spool import Spool
from pwr_platform.ingest.writer import QueueWriter, Writer, WriterFailed

root, url, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
t0 = datetime(2026, 10, 1, tzinfo=UTC)

async def main():
    with Spool(root, "bot") as spool:
        writer = Writer(url, spool=spool, connect_timeout=1, retry_interval=0.05, max_retry_interval=0.2)
        sink = QueueWriter(writer, batch_size=50, flush_interval=0.01, max_queue=100, give_up_after=1.0)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))  # the disk is full
        task = asyncio.create_task(sink.run())
        for i in range(600):
            sink.put(voice_payload("join", t0 + timedelta(seconds=i), 1, i, 5, source="bot"))
            if i % 50 == 0:
                await asyncio.sleep(0.01)
        try:
            await asyncio.wait_for(task, 30)
            outcome = "kept running"
        except WriterFailed as exc:
            outcome = str(exc)
        held = sink.status().held
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # freed
        lost = await sink.close()
        print(json.dumps({"outcome": outcome, "held": held, "lost": lost, "spooled": spool.pending_records}))

asyncio.run(main())
"""


def test_disk_full_and_postgres_down_under_the_bot_writer_gives_up_loudly_and_keeps_everything_once_space_is_freed(
    warehouse_url: str, tmp_path: Path
) -> None:
    """Neither PostgreSQL nor the spool takes records: the writer loop holds them (bounded by the
    queue), raises WriterFailed instead of running on recording nothing, and its shutdown writes
    every record to the spool once there is room again."""
    root = tmp_path / "spool"
    outcome, _ = run_with_a_full_disk(DISK_FULL_BOT_WRITER, root, 20_000)
    assert "spool" in outcome["outcome"], outcome  # WriterFailed, naming the spool
    assert outcome["held"] > 0 and outcome["lost"] == 0 and outcome["spooled"] == 600, outcome
    assert sorted(spooled_voice_users(root)) == list(range(600))
    replay_spool(root, warehouse_url)
    assert sorted(voice_users(warehouse_url)) == list(range(600))


def test_garbage_line_in_the_middle_of_a_segment_is_quarantined_and_the_rest_replayed(
    warehouse_url: str, tmp_path: Path
) -> None:
    records = [voice(i) for i in range(200)]
    garbage = [b'["voice", "join", "2026-10-01T18:00:\x00\xff\n', b'["no-such-kind", 1, 2]\n']
    with Spool(tmp_path, "bot") as spool:
        spool.append(records[:100])
        segment = spool.segments()[0]
        with open(segment, "ab") as fh:  # damage in the middle of the segment, between good records
            fh.writelines(garbage)
        spool.append(records[100:])
        spool.seal()
        assert spool.segments() == [segment]
        assert stat.S_IMODE(segment.stat().st_mode) == 0o600
        assert stat.S_IMODE(spool.dir.stat().st_mode) == 0o700
    writer = replay_spool(tmp_path, warehouse_url)
    assert writer.stats.inserted["voice"] == 200 and writer.stats.inserted["rejected"] == 2
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM pwr_raw.discord_voice_events").fetchone()[0] == 200
        quarantined = conn.execute(
            "SELECT source, source_ref, raw_text, reason FROM pwr_raw.rejected_voice_events ORDER BY id"
        ).fetchall()
    assert [(q[0], q[1].rsplit(":", 1)[1]) for q in quarantined] == [("spool", "101"), ("spool", "102")]
    assert quarantined[0][2] == '["voice", "join", "2026-10-01T18:00:\\x00\\xff'  # the bytes, made visible
    assert "unreadable spool line" in quarantined[0][3] and "KeyError" in quarantined[1][3]
    assert list(tmp_path.iterdir()) == []  # nothing left to wedge the next writer


# -- promise 9 (writer half): every refused record is quarantined, not dropped -----------------------


def test_member_scheduled_event_and_channel_records_refused_by_postgres_are_quarantined_not_dropped(
    warehouse_url: str,
) -> None:
    now = datetime(2026, 11, 1, 19, 0, tzinfo=UTC)
    good = MemberRecord(GUILD, 1, "join", now, "ada", "Ada", None, False, '{"id": "1"}')
    banned = MemberRecord(GUILD, 2, "ban", now, "bob", "Bob", None, False, '{"id": "2"}')  # no such type
    nul_name = MemberRecord(GUILD, 3, "update", now, "c\x00d", "C", None, False, '{"id": "3"}')
    archived = ScheduledEventRecord(
        GUILD, 7001, now, "archived", "Scrim", now + timedelta(hours=1), payload='{"id": "7001"}'
    )
    event = ScheduledEventRecord(GUILD, 7002, now, "scheduled", "Inhouse", now, payload='{"id": "7002"}')
    nul_channel = ChannelRecord(GUILD, GENERAL, "update", now, "Raid\x00night", '{"id": "101"}')
    channel = ChannelRecord(GUILD, SQUAD, "update", now, "Squad 2", '{"id": "102"}')
    writer = Writer(warehouse_url)
    writer.write_batch([good, banned, nul_name, archived, event, nul_channel, channel, voice(1)])
    assert writer.stats.refused_by_db == 4
    with psycopg.connect(warehouse_url) as conn:
        assert [r[0] for r in conn.execute("SELECT discord_user_id FROM pwr_raw.discord_member_events")] == [
            1
        ]
        assert [
            r[0] for r in conn.execute("SELECT discord_event_id FROM pwr_raw.discord_scheduled_events")
        ] == [7002]
        assert conn.execute(
            "SELECT discord_channel_id, channel_name FROM pwr_raw.discord_channel_events"
        ).fetchall() == [(SQUAD, "Squad 2")]
        quarantined = conn.execute(
            "SELECT source, source_ref, raw_text, reason FROM pwr_raw.rejected_voice_events ORDER BY source_ref, id"
        ).fetchall()
    assert [(q[0], q[1]) for q in quarantined] == [
        ("writer", "channel"),
        ("writer", "member"),
        ("writer", "member"),
        ("writer", "scheduled_event"),
    ]
    kept = [json.loads(q[2]) for q in quarantined]
    assert [k[:2] for k in kept] == [
        ["channel", GUILD],
        ["member", GUILD],
        ["member", GUILD],
        ["scheduled_event", GUILD],
    ]
    assert kept[0][5] == "Raid\x00night" and "channel record" in quarantined[0][3]
    assert "ban" in quarantined[1][2] and "check constraint" in quarantined[1][3]
    assert kept[2][5] == "c\x00d"  # the record kept whole, its NUL escaped in the JSON text
    assert "archived" in quarantined[3][2] and "refused by PostgreSQL" in quarantined[3][3]


def test_a_channel_renamed_while_postgres_is_down_is_spooled_replayed_and_names_the_channel(
    own_server: EmbeddedPostgres,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    """The real bot records every voice channel's name at ready (written at once), then a rename
    of General while nobody is in voice and PostgreSQL is stopped: SIGTERM spools it, the replay
    writes it once, and the channel names take it with no voice event in the channel."""
    from pwr_platform.transforms.voice_channels import refresh_voice_channels

    url = own_server.url("postgres")
    spool_root = tmp_path / "home" / "spool"
    channel_rows = (
        "SELECT discord_channel_id, event_type, channel_name FROM pwr_raw.discord_channel_events ORDER BY id"
    )
    with local_discord(quiet_guild()) as discord:
        bot = BotProcess(discord, tmp_path / "home", url, PWR_BOT_STOP_DRAIN_SECONDS="2")
        try:
            bot.start()
            discord.wait_connected()
            bot.wait_ready()

            def snapshot_written() -> bool:
                with psycopg.connect(url) as conn:
                    return len(conn.execute(channel_rows).fetchall()) == 2

            wait_for(snapshot_written, 30, "the ready snapshot of the channels")
            own_server.stop()
            discord.wait_processed(
                discord.dispatch("CHANNEL_UPDATE", channel(GUILD, GENERAL, 2, "Raid night"))
            )
            code = bot.signal(signal.SIGTERM)
        finally:
            bot.kill()
    assert code == 0, bot.log()
    spooled = [
        read_line(line, str(segment))
        for segment in sorted(spool_root.glob("*/*.jsonl"))
        for line in segment.read_bytes().splitlines(keepends=True)
    ]
    assert [(r.KIND, r.channel_id, r.channel_name) for r in spooled if r.KIND == "channel"] == [
        ("channel", GENERAL, "Raid night")
    ]

    own_server.start()
    replay_spool(spool_root, url)
    replay_spool(spool_root, url)  # nothing left to replay: still once
    with psycopg.connect(url) as conn:
        assert conn.execute(channel_rows).fetchall() == [
            (GENERAL, "snapshot", "General"),
            (SQUAD, "snapshot", "Squad"),
            (GENERAL, "update", "Raid night"),
        ]
        conn.commit()
        refresh_voice_channels(conn)
        names = conn.execute(
            "SELECT discord_channel_id, channel_label FROM pwr_core.voice_channels ORDER BY 1"
        ).fetchall()
    assert names == [(GENERAL, "#Raid night"), (SQUAD, "#Squad")]
