"""Ingestion throughput: the writer on simulated events, and ``pwr ingest`` on a JSON-lines file.

Each is compared with a bare ``COPY`` of the same rows, pre-rendered as COPY text, into a table
with the same indexes as ``pwr_raw.discord_voice_events`` (``LIKE … INCLUDING ALL``: primary
key, natural key, (guild, event_ts), ingest_xid), measured in the same run on the same server.

- **writer**: simulated voice records → :class:`Writer` (staging COPY + INSERT … ON CONFLICT in
  a worker thread, as ``pwr simulate`` runs it). Reported twice: end to end (simulation included)
  and the writer's own rate (rows / time spent inside ``write_batch``, records generated one
  batch ahead so the simulation is not counted).
- **pwr ingest**: the ingest code path (streaming read, JSON parsing, validation, writer) on a
  JSON-lines file of the same events.

Size: ``PWR_BENCH_EVENTS`` (default 1,000,000). Database: ``PWR_BENCH_DATABASE_URL``, else a
fresh database ``pwr_bench`` on the warehouse server (embedded unless PWR_DATABASE_URL).
Peak memory: each phase runs in a forked child process and reports that process's max RSS
(``resource.getrusage``), so one phase's peak does not hide another's.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import psycopg

from pwr_platform.ingest.backfill import ingest_file
from pwr_platform.ingest.records import VoiceRecord
from pwr_platform.ingest.simulator import Simulation, SimulationConfig
from pwr_platform.ingest.writer import BackgroundWriter, Writer
from pwr_platform.warehouse import migrate
from pwr_platform.warehouse.connection import ensure_database, warehouse_url, with_database

END = datetime(2026, 11, 1, tzinfo=UTC)
COLUMNS = "discord_guild_id, discord_user_id, discord_channel_id, event_type, event_ts, raw_payload"


def _events() -> int:
    return int(os.environ.get("PWR_BENCH_EVENTS", "1000000"))


def _database() -> str:
    url = os.environ.get("PWR_BENCH_DATABASE_URL")
    if url:
        return url
    server = warehouse_url(start=True)
    ensure_database(with_database(server, "postgres"), "pwr_bench")
    return with_database(server, "pwr_bench")


def simulated_voice(n: int) -> Iterator[VoiceRecord]:
    """``n`` simulated voice events: a community sized so that it yields at least ``n``."""
    members = max(50, n // 250)
    sim = Simulation(SimulationConfig(members=members, days=365, seed=42, end=END))
    voice = (r for i in range(members) for r in sim.member_records(i) if r.KIND == "voice")
    return islice(voice, n)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def render_files(n: int, workdir: Path) -> tuple[Path, Path, int]:
    """The same events as COPY text (baseline input) and as JSON lines (ingest input)."""
    copy_path, jsonl_path = workdir / "events.copy", workdir / "events.jsonl"
    count = 0
    with open(copy_path, "w") as copy_fh, open(jsonl_path, "w") as jsonl_fh:
        for r in simulated_voice(n):
            copy_fh.write(
                f"{r.guild_id}\t{r.user_id}\t{r.channel_id}\t{r.event_type}\t{r.event_ts.isoformat()}\t{_escape(r.payload)}\n"
            )
            jsonl_fh.write(r.payload + "\n")
            count += 1
    return copy_path, jsonl_path, count


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS pwr_raw, pwr_core, pwr_agg, bench CASCADE")
        conn.execute("DROP TABLE IF EXISTS public.alembic_version")
    migrate.upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA bench")
        conn.execute("CREATE TABLE bench.bare_copy (LIKE pwr_raw.discord_voice_events INCLUDING ALL)")
        conn.execute("CHECKPOINT")


@dataclass
class Result:
    label: str
    rows: int
    seconds: float
    max_rss: int  # bytes, of the process that ran the phase

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    def line(self, baseline: Result | None = None) -> str:
        ratio = f"  = {self.rate / baseline.rate:.2f}x bare COPY" if baseline else ""
        return (
            f"  {self.label:36} {self.rows:>10,} rows {self.seconds:8.1f}s {self.rate:>10,.0f} rows/s"
            f"  peak RSS {self.max_rss / 2**20:6.1f} MiB{ratio}"
        )


def run_phase(label: str, rows: int, phase: Callable[[], float | None]) -> Result:
    """Run ``phase`` in a forked child so its peak RSS is its own; it may return its own timing."""

    def child(conn) -> None:
        started = time.perf_counter()
        own = phase()
        seconds = own if own is not None else time.perf_counter() - started
        conn.send((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
        conn.close()

    ctx = multiprocessing.get_context("fork")
    parent, child_end = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=child, args=(child_end,))
    proc.start()
    seconds, rss = parent.recv()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"benchmark phase {label!r} failed")
    return Result(label, rows, seconds, rss)


def bare_copy(url: str, copy_path: Path) -> None:
    with (
        psycopg.connect(url, autocommit=True) as conn,
        conn.cursor().copy(f"COPY bench.bare_copy ({COLUMNS}) FROM STDIN") as copy,
        open(copy_path, "rb") as fh,
    ):
        while block := fh.read(1 << 20):
            copy.write(block)


def count_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM pwr_raw.discord_voice_events").fetchone()[0]


def main() -> None:
    n = _events()
    url = _database()
    print(f"events: {n:,} (PWR_BENCH_EVENTS); database: {url.rsplit('@', 1)[-1]}")
    with tempfile.TemporaryDirectory(prefix="pwr-bench-") as tmp:
        started = time.perf_counter()
        copy_path, jsonl_path, rows = render_files(n, Path(tmp))
        print(
            f"  simulated + rendered {rows:,} events in {time.perf_counter() - started:.1f}s "
            f"(JSON lines file {jsonl_path.stat().st_size / 2**20:.0f} MiB)"
        )

        reset(url)
        baseline = run_phase("bare COPY (same indexes)", rows, lambda: bare_copy(url, copy_path))
        print(baseline.line())

        def writer_end_to_end() -> None:
            bw = BackgroundWriter(Writer(url, batch_size=10_000))
            for record in simulated_voice(n):
                bw.add(record)
            bw.close()

        def writer_alone() -> float:
            writer = Writer(url, batch_size=10_000)
            records = simulated_voice(n)
            spent = 0.0
            while batch := list(islice(records, 10_000)):
                t = time.perf_counter()
                writer.write_batch(batch)
                spent += time.perf_counter() - t
            writer.close()
            return spent

        def ingest(expect_new: bool) -> None:
            bw = BackgroundWriter(Writer(url, batch_size=10_000))
            summary = ingest_file(jsonl_path, bw)
            bw.close()
            assert summary.rejected == 0, summary
            assert (summary.inserted, summary.duplicates) == ((rows, 0) if expect_new else (0, rows)), summary

        for label, phase, fresh in (
            ("writer, end to end (simulate → PG)", writer_end_to_end, True),
            ("writer alone (time in write_batch)", writer_alone, True),
            ("pwr ingest (JSON-lines file)", lambda: ingest(True), True),
            ("pwr ingest re-run (all duplicates)", lambda: ingest(False), False),
        ):
            if fresh:
                reset(url)
            result = run_phase(label, rows, phase)
            assert count_rows(url) == rows
            print(result.line(baseline), flush=True)
    print("  targets: writer >= 0.5x bare COPY, pwr ingest >= 0.3x, peak memory < 200 MB")
