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
- **pwr ingest --mapping**: the same events written as a community bot's own log (the
  ``examples/log-mappings/json-before-after`` shape: epoch milliseconds, nested member, channel
  before / after) and read through that example mapping; printed next to the native figure.

Size: ``PWR_BENCH_EVENTS`` (default 1,000,000). Database: ``PWR_BENCH_DATABASE_URL``, else a
fresh database ``pwr_bench`` on the warehouse server (embedded unless PWR_DATABASE_URL).
Peak memory: each phase runs in a forked child process and reports that process's max RSS
(``resource.getrusage``), so one phase's peak does not hide another's.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import psycopg

from pwr_platform.ingest.backfill import ingest_file
from pwr_platform.ingest.mapped_lines import LineMapper
from pwr_platform.ingest.mapping import load_mapping
from pwr_platform.ingest.records import VoiceRecord
from pwr_platform.ingest.simulator import Simulation, SimulationConfig
from pwr_platform.ingest.writer import BackgroundWriter, Writer
from pwr_platform.warehouse import migrate
from pwr_platform.warehouse.connection import ensure_database, warehouse_url, with_database

END = datetime(2026, 11, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAPPING = Path(__file__).resolve().parent.parent / "examples" / "log-mappings" / "json-before-after.yaml"
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


def bot_log_line(r: VoiceRecord) -> str:
    """The event as the json-before-after example's bot logs it (one voice-state update)."""
    body = json.loads(r.payload)
    channel = str(r.channel_id)
    before = (
        body.get("from_channel_id")
        if r.event_type == "move"
        else channel
        if r.event_type == "leave"
        else None
    )
    after = None if r.event_type == "leave" else channel
    return json.dumps(
        {
            "ts": (r.event_ts - EPOCH) // timedelta(milliseconds=1),
            "level": "info",
            "event": "voice_state_update",
            "guild": {"id": str(r.guild_id)},
            "member": {
                "id": str(r.user_id),
                "name": body.get("username"),
                "display_name": body.get("display_name"),
            },
            "before": {"channel_id": before},
            "after": {
                "channel_id": after,
                "self_mute": body.get("self_mute"),
                "self_deaf": body.get("self_deaf"),
            },
        }
    )


def render_files(n: int, workdir: Path) -> tuple[Path, Path, Path, int]:
    """The same events as COPY text (baseline input), JSON lines (ingest input) and a bot's own log."""
    copy_path, jsonl_path = workdir / "events.copy", workdir / "events.jsonl"
    bot_log_path = workdir / "bot.log"
    count = 0
    with (
        open(copy_path, "w") as copy_fh,
        open(jsonl_path, "w") as jsonl_fh,
        open(bot_log_path, "w") as bot_fh,
    ):
        for r in simulated_voice(n):
            copy_fh.write(
                f"{r.guild_id}\t{r.user_id}\t{r.channel_id}\t{r.event_type}\t{r.event_ts.isoformat()}\t{_escape(r.payload)}\n"
            )
            jsonl_fh.write(r.payload + "\n")
            bot_fh.write(bot_log_line(r) + "\n")
            count += 1
    return copy_path, jsonl_path, bot_log_path, count


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
        copy_path, jsonl_path, bot_log_path, rows = render_files(n, Path(tmp))
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

        def ingest_mapped() -> None:
            bw = BackgroundWriter(Writer(url, batch_size=10_000))
            mapper = LineMapper(load_mapping(MAPPING))
            summary = ingest_file(bot_log_path, bw, check=mapper.check)
            bw.close()
            assert (summary.rejected, summary.inserted, mapper.take_skipped()) == (0, rows, {}), summary

        results = {}
        for label, phase, fresh in (
            ("writer, end to end (simulate → PG)", writer_end_to_end, True),
            ("writer alone (time in write_batch)", writer_alone, True),
            ("pwr ingest (JSON-lines file)", lambda: ingest(True), True),
            ("pwr ingest re-run (all duplicates)", lambda: ingest(False), False),
            ("pwr ingest --mapping (bot's JSON log)", ingest_mapped, True),
        ):
            if fresh:
                reset(url)
            result = results[label] = run_phase(label, rows, phase)
            assert count_rows(url) == rows
            print(result.line(baseline), flush=True)
        native, mapped = (
            results["pwr ingest (JSON-lines file)"],
            results["pwr ingest --mapping (bot's JSON log)"],
        )
        print(f"  mapped log / native JSON lines: {mapped.rate / native.rate:.2f}x the native rate")
    print("  targets: writer >= 0.5x bare COPY, pwr ingest >= 0.3x, peak memory < 200 MB")
