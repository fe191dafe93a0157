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
Peak memory: the process's max RSS (``resource.getrusage``) and tracemalloc's peak of Python
allocations during each measured phase.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
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
    members = max(50, n // 330)
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


class Measure:
    """Wall time, rows/s, max RSS and tracemalloc peak of one phase."""

    def __init__(self, label: str, rows: int) -> None:
        self.label, self.rows = label, rows

    def __enter__(self) -> Measure:
        tracemalloc.start()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
        _, self.py_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        self.rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    def line(self, baseline: Measure | None = None) -> str:
        ratio = f"  = {self.rate / baseline.rate:.2f}x bare COPY" if baseline else ""
        return (
            f"  {self.label:34} {self.rows:>10,} rows {self.seconds:8.1f}s {self.rate:>10,.0f} rows/s"
            f"  python peak {self.py_peak / 2**20:6.1f} MiB  max RSS {self.rss / 2**20:6.1f} MiB{ratio}"
        )


def bare_copy(url: str, copy_path: Path, rows: int) -> Measure:
    with (
        psycopg.connect(url, autocommit=True) as conn,
        Measure("bare COPY (same indexes)", rows) as m,
        conn.cursor().copy(f"COPY bench.bare_copy ({COLUMNS}) FROM STDIN") as copy,
        open(copy_path, "rb") as fh,
    ):
        while block := fh.read(1 << 20):
            copy.write(block)
    return m


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
        baseline = bare_copy(url, copy_path, rows)
        print(baseline.line())

        # Writer, end to end: simulation in this thread, writer in its worker thread.
        reset(url)
        with Measure("writer (simulate → PostgreSQL)", rows) as writer_e2e:
            bw = BackgroundWriter(Writer(url, batch_size=10_000))
            for record in simulated_voice(n):
                bw.add(record)
            bw.close()
        assert count_rows(url) == rows
        print(writer_e2e.line(baseline))

        # Writer alone: records generated ahead per batch, only write_batch is timed.
        reset(url)
        writer = Writer(url, batch_size=10_000)
        records = simulated_voice(n)
        spent = 0.0
        peak = 0
        tracemalloc.start()
        while batch := list(islice(records, 10_000)):
            t = time.perf_counter()
            writer.write_batch(batch)
            spent += time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        writer.close()
        assert count_rows(url) == rows
        only = Measure("writer alone (write_batch time)", rows)
        only.seconds, only.py_peak = spent, peak
        only.rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(only.line(baseline))

        # pwr ingest of the JSON-lines file (the CLI's code path, without click around it).
        reset(url)
        with Measure("pwr ingest (JSON lines file)", rows) as ingest_m:
            bw = BackgroundWriter(Writer(url, batch_size=10_000))
            summary = ingest_file(jsonl_path, bw)
            bw.close()
        assert summary.inserted == rows and summary.rejected == 0, summary
        print(ingest_m.line(baseline))

        with Measure("pwr ingest re-run (all duplicates)", rows) as rerun:
            bw = BackgroundWriter(Writer(url, batch_size=10_000))
            summary = ingest_file(jsonl_path, bw)
            bw.close()
        assert summary.inserted == 0 and summary.duplicates == rows, summary
        print(rerun.line(baseline))
    print("  targets: writer >= 0.5x bare COPY, pwr ingest >= 0.3x, peak memory < 200 MB")
