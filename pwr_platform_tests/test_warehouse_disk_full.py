"""Fault drill: the warehouse server's disk fills up.

A community server runs for years on one disk; one day it is full. PostgreSQL stays up and
refuses every write that needs a new page ("could not extend file …: No space left on device").
What the platform promises then: every command says that the disk is full (not that PostgreSQL
cannot be reached: it answers), in one line; new voice records wait in the spool; no half-written
table commits; readers keep the last good tables; and once space is freed, one `pwr ingest` and
one `pwr materialize` bring everything up to date.

The server is a real PostgreSQL 15 cluster whose data directory lies on a small tmpfs of the
test's own, filled with a ballast file: a real full disk (ENOSPC), not a simulated error. Its WAL
is kept apart (``initdb --waldir``), as on a server whose WAL has a disk of its own: when the WAL's
own disk fills, PostgreSQL stops at once (PANIC) by design, and what is tested then is
PostgreSQL's crash recovery, not the platform. Dagster's storage is on the suite's server, so the
failing write is the warehouse's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pwr_platform_tests.conftest import create_database, drop_database, run_pwr
from pwr_platform_tests.scratch_cluster import ScratchCluster
from pwr_platform_tests.test_ingest import good
from pwr_platform_tests.test_writer import free_port

DISK_MIB = 96  # the new cluster takes ~40 MiB; the simulated community a few more
LATE_VOICE_PAIRS = 20
# What a reader sees: row counts and totals of the tables the dashboards are built on.
SNAPSHOT = """
SELECT (SELECT count(*) FROM pwr_raw.discord_voice_events),
       (SELECT count(*) FROM pwr_core.members),
       (SELECT count(*) FROM pwr_core.voice_sessions),
       (SELECT coalesce(sum(duration_seconds), 0) FROM pwr_core.voice_sessions WHERE is_completed),
       (SELECT count(*) FROM pwr_agg.member_voice_daily),
       (SELECT coalesce(sum(total_voice_seconds), 0) FROM pwr_agg.member_voice_daily),
       (SELECT coalesce(sum(total_voice_seconds), 0) FROM pwr_agg.member_engagement_weekly),
       (SELECT count(*) FROM pwr_agg.member_monthly_status),
       (SELECT array_agg(name ORDER BY name)
          FROM (SELECT format('%s.%s', n.nspname, c.relname) AS name
                  FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
                 WHERE n.nspname LIKE 'pwr\\_%') AS relations)
"""


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 96 MiB tmpfs: the disk of the warehouse server's data directory (the embedded server's
    whole ``PWR_HOME`` in the second test)."""
    if os.geteuid() != 0:
        pytest.skip("mounts a small tmpfs as the warehouse server's disk, which needs root (CI runs as root)")
    mountpoint = Path(tempfile.mkdtemp(prefix="pwr-small-disk-"))
    mount = ["mount", "-t", "tmpfs", "-o", f"size={DISK_MIB}m,mode=0755", "tmpfs", str(mountpoint)]
    subprocess.run(mount, check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "--lazy", str(mountpoint)], check=False)
        mountpoint.rmdir()


def fill(disk: Path) -> Path:
    """Take all the disk's free space but 16 KiB with a ballast file (the disk is full)."""
    ballast = disk / "ballast"
    with ballast.open("wb") as fh:
        os.posix_fallocate(fh.fileno(), 0, shutil.disk_usage(disk).free - 16 * 1024)
    return ballast


def snapshot(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(SNAPSHOT).fetchone()


def late_voice_lines(path: Path) -> Path:
    """Sessions of members the simulator does not know, recorded yesterday: 20 joins and leaves."""
    start = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0) - timedelta(days=1)
    records = []
    for i in range(LATE_VOICE_PAIRS):
        joined = start + timedelta(minutes=i)
        records.append(good(i, "join", ts=joined.isoformat()))
        records.append(good(i, "leave", ts=(joined + timedelta(minutes=30)).isoformat()))
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def no_stack_trace(done: subprocess.CompletedProcess) -> bool:
    text = done.stdout + done.stderr
    return "Traceback" not in text and "Stack Trace" not in text


def test_a_full_warehouse_disk_loses_nothing_says_so_in_one_line_and_everything_resumes_once_freed(
    small_disk: Path, pg_server_url: str, tmp_path: Path
) -> None:
    cluster = ScratchCluster(data_parent=small_disk, wal_apart=True)
    dagster_db = f"pwr_test_dagster_disk_full_{uuid.uuid4().hex[:8]}"
    try:
        url = cluster.create_database("pwr")
        settings = {
            "PWR_DATABASE_URL": url,
            "PWR_DAGSTER_DATABASE_URL": create_database(pg_server_url, dagster_db),
            "PWR_HOME": str(tmp_path / "home"),
        }

        def pwr(*args: str) -> subprocess.CompletedProcess:
            return run_pwr(settings, *args)

        for command in (("db", "upgrade"), ("simulate", "--members", "30", "--days", "40", "--seed", "5")):
            done = pwr(*command)
            assert done.returncode == 0, done.stdout + done.stderr
        built = pwr("materialize")
        assert built.returncode == 0, built.stdout + built.stderr
        before = snapshot(url)
        assert before[4] > 0 and before[5] > 0, "the warehouse was built"

        ballast = fill(small_disk)
        lines = late_voice_lines(tmp_path / "late.jsonl")

        # New voice records: refused by the full disk, kept in the spool, and the message says why.
        ingest = pwr("ingest", "--drain-timeout", "1", str(lines))
        assert ingest.returncode == 1, ingest.stdout + ingest.stderr
        message = ingest.stderr.strip().splitlines()[-1]
        assert message.startswith("Error: PostgreSQL cannot write (DiskFull: could not extend file"), message
        assert f"{2 * LATE_VOICE_PAIRS} records are safe in the spool" in message, message
        assert "once it has room" in message and "unreachable" not in ingest.stderr, ingest.stderr
        assert no_stack_trace(ingest)

        # A backfill of the whole graph: the first run that needs a new page fails, rolled back,
        # and its line says the disk is full instead of a stack trace.
        backfill = pwr("materialize")
        assert backfill.returncode == 1, backfill.stdout + backfill.stderr
        failed = [line for line in backfill.stdout.splitlines() if "FAILED" in line]
        assert len(failed) == 1, backfill.stdout
        # on the line of its asset, no error line of Dagster's (to stderr, the same terminal) between
        # the head and the outcome: not the stack trace, not one line per check left unrun
        assert re.match(r"\[\d+/\d+\] pwr_\w+/\w+: .* … FAILED after", failed[0]), failed[0]
        assert "Not executing" not in backfill.stderr, backfill.stderr
        assert "nothing of it was committed): PostgreSQL's disk is full: free space on the disk" in failed[0]
        assert "No space left on device" in failed[0] and "run `pwr materialize` again" in failed[0]
        assert no_stack_trace(backfill), backfill.stdout + backfill.stderr

        # The server is up, and a reader sees exactly the tables of before: the same rows and
        # totals, and no table left over from a rebuild that could not finish.
        assert snapshot(url) == before

        # Space freed: the spool is replayed and the graph built again, with the late sessions.
        ballast.unlink()
        replay = pwr("ingest")
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert f"Spool replayed: {2 * LATE_VOICE_PAIRS} records written" in replay.stderr + replay.stdout
        rebuilt = pwr("materialize")
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert "FAILED" not in rebuilt.stdout, rebuilt.stdout
        after = snapshot(url)
        assert after[0] == before[0] + 2 * LATE_VOICE_PAIRS
        assert after[3] == before[3] + LATE_VOICE_PAIRS * 30 * 60, "each late session: 30 minutes"
        assert after[5] == before[5] + LATE_VOICE_PAIRS * 30 * 60, "and so many more in the daily totals"
        assert after[8] == before[8], "the same tables, none left over"
    finally:
        cluster.stop()
        drop_database(pg_server_url, dagster_db)


def test_the_embedded_server_on_a_full_disk_says_why_it_cannot_start_and_starts_once_freed(
    small_disk: Path,
) -> None:
    """`pwr db start` (and `pwr up`) after the disk filled while the server was stopped: PostgreSQL
    cannot write its first WAL file and gives up. pg_ctl says only "Examine the log output"; the
    command says what the server logged and where the log is, and the data is all there once
    space is freed."""
    settings = {"PWR_HOME": str(small_disk / "home"), "PWR_DB_PORT": str(free_port())}

    def pwr(*args: str) -> subprocess.CompletedProcess:
        return run_pwr(settings, *args, timeout=180)

    try:
        assert pwr("db", "start").returncode == 0
        url = pwr("db", "url").stdout.strip()
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE kept AS SELECT 'written before the disk filled' AS v")
        assert pwr("db", "stop").returncode == 0
        ballast = fill(small_disk)

        refused = pwr("db", "start")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        message = refused.stderr.strip()
        assert message.startswith("Error: PostgreSQL did not start: FATAL: could not write to file"), message
        assert "No space left on device" in message and "pgdata/server.log" in message, message
        assert len(message.splitlines()) == 1 and no_stack_trace(refused)

        ballast.unlink()
        assert pwr("db", "start").returncode == 0
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("written before the disk filled",)]
    finally:
        pwr("db", "stop")
