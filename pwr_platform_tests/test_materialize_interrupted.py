"""Fault drill: ``pwr materialize`` stopped in the middle of a whole-table rebuild, as an operator
stops a long backfill (Ctrl-C, SIGTERM) or as the machine does (SIGKILL, the OOM killer).

The run is caught at its most exposed moment: ``member_voice_daily`` has been emptied (TRUNCATE),
written again and its keys rebuilt, uncommitted, and the run waits on the last statement of its
transaction (the test holds a lock on the stale-day mark that statement deletes). Then the signal.
Nothing may be lost and nothing may stay locked: the server drops the run's backend at once (its
statement cancelled; after SIGKILL, within the server's client check), readers see the table as
it was, with the same file, keys and indexes, the mark is still there for the next run, and the
next ``pwr materialize`` finishes the job (after SIGKILL, it first marks failed the run the killed
command left started). Ctrl-C and SIGTERM end in one line and exit 130.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import psycopg
import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, Definitions, asset, instance_for_test

from pwr_platform.cli.materialize import Interrupted, StopSignals, materialize_graph
from pwr_platform.runtime.run_owner import (
    HEARTBEAT_KEY,
    PROCESS_TAG,
    SILENT_AFTER_SECONDS,
    fail_orphaned_runs,
    process_tags,
)
from pwr_platform.warehouse.connection import sqlalchemy_url
from pwr_platform_tests.conftest import create_database, drop_database, run_pwr, start_pwr
from pwr_platform_tests.demo_warehouse import simulate

DAILY = "SELECT activity_date, member_id, total_voice_seconds FROM pwr_agg.member_voice_daily ORDER BY 1, 2"
KEYS_AND_INDEXES = """
SELECT indexdef FROM pg_indexes WHERE schemaname = 'pwr_agg' AND tablename = 'member_voice_daily'
UNION ALL
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'pwr_agg.member_voice_daily'::regclass
ORDER BY 1
"""
MARK = ("member_voice_daily", "2025-03-20")
RUN_BACKENDS = (
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'pwr-dagster' AND datname = current_database()"
)


def _rows(conn: psycopg.Connection, query: str) -> list[tuple]:
    return conn.execute(query).fetchall()


def _wait_for(what: str, probe, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_a_backfill_stopped_mid_rebuild_loses_nothing_locks_nothing_and_the_next_run_finishes(
    signum: signal.Signals, warehouse_url: str, pg_server_url: str, tmp_path, monkeypatch
) -> None:
    dagster_db = "pwr_test_dagster_" + uuid.uuid4().hex[:8]
    settings = {
        "PWR_HOME": str(tmp_path),
        "PWR_DATABASE_URL": warehouse_url,
        "PWR_DAGSTER_DATABASE_URL": create_database(pg_server_url, dagster_db),
    }
    try:
        simulate(warehouse_url, tmp_path / "sim", members=25, days=21, seed=5, end="2025-03-29")
        first = run_pwr(settings, "materialize")
        assert first.returncode == 0, first.stdout + first.stderr
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            before = _rows(conn, DAILY)
            keys_before = _rows(conn, KEYS_AND_INDEXES)
            file_before = conn.execute("SELECT pg_relation_filenode('pwr_agg.member_voice_daily')").fetchone()
            conn.execute(
                "INSERT INTO pwr_core.stale_aggregate_days (aggregate, local_day) VALUES (%s, %s)", MARK
            )
        assert len(before) > 100 and len(keys_before) == 4

        # the test's lock: the run will wait on it when it deletes the marks it consumed, the last
        # statement of its transaction (after TRUNCATE, INSERT and the keys and indexes built again)
        holder = psycopg.connect(warehouse_url)
        holder.execute(
            "SELECT 1 FROM pwr_core.stale_aggregate_days WHERE aggregate = %s AND local_day = %s FOR UPDATE",
            MARK,
        )
        watch = psycopg.connect(warehouse_url, autocommit=True)
        proc = start_pwr(settings, "materialize")
        try:
            waiting = _wait_for(
                "the daily run to wait on the test's lock",
                lambda: watch.execute(
                    "SELECT pid, query FROM pg_stat_activity WHERE application_name = 'pwr-dagster' AND datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE '%%DELETE FROM pwr_core.stale_aggregate_days%%'"
                ).fetchone(),
            )
            # the run is inside its rebuild: it holds the daily table's exclusive lock
            held = watch.execute(
                "SELECT mode FROM pg_locks WHERE pid = %s AND granted"
                " AND relation = 'pwr_agg.member_voice_daily'::regclass",
                (waiting[0],),
            ).fetchall()
            assert ("AccessExclusiveLock",) in held, held

            proc.send_signal(signum)
            out, err = proc.communicate(timeout=120)
            # the run's backend is gone while the test still holds its lock: cancelled at once, or,
            # after SIGKILL, dropped by the server's client check (CLIENT_CHECK_INTERVAL, 5 s)
            _wait_for("the run's backend to end", lambda: not watch.execute(RUN_BACKENDS).fetchall(), 30)
            # readers are not blocked and see the table as it was
            watch.execute("SET lock_timeout = '5s'")
            assert _rows(watch, DAILY) == before
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            holder.close()

        if signum == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
        else:
            assert proc.returncode == 130, out + err
            assert "pwr_agg/member_voice_daily: " in out and "interrupted after" in out, out
            assert "what it had not committed was rolled back" in out
            assert err.strip() == (
                "Interrupted: the runs that finished are kept; run `pwr materialize` again to build the rest."
            ), err
            assert "[10/" not in out  # nothing ran after the interrupted run
        assert _rows(watch, DAILY) == before
        assert _rows(watch, KEYS_AND_INDEXES) == keys_before
        # the TRUNCATE was rolled back: the table's file is the one it had
        assert (
            watch.execute("SELECT pg_relation_filenode('pwr_agg.member_voice_daily')").fetchone()
            == file_before
        )
        # the mark the interrupted run did not consume is there for the next one
        marks = "SELECT count(*) FROM pwr_core.stale_aggregate_days WHERE aggregate = %s AND local_day = %s"
        assert watch.execute(marks, MARK).fetchone() == (1,)

        again = run_pwr(settings, "materialize")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Materialized 19 assets" in again.stdout
        # SIGKILL left Dagster no moment to record the run's end; the next command marks it failed
        # (else it would hold a run-queue slot for good), and only it
        orphan_lines = [line for line in again.stdout.splitlines() if line.startswith("marked failed: run ")]
        if signum == signal.SIGKILL:
            assert len(orphan_lines) == 1 and "(pwr_agg/member_voice_daily)" in orphan_lines[0], again.stdout
            assert (
                "left unfinished by a `pwr materialize` that ended without recording its end"
                in orphan_lines[0]
            )
        else:
            assert orphan_lines == []
        assert _rows(watch, DAILY) == before
        assert _rows(watch, KEYS_AND_INDEXES) == keys_before
        assert watch.execute(marks, MARK).fetchone() == (0,)
        watch.close()

        # the instance the command recorded its runs in (its dagster.yaml reads the storage URL
        # from the environment)
        monkeypatch.setenv(
            "PWR_DAGSTER_STORAGE_URL", sqlalchemy_url(settings["PWR_DAGSTER_DATABASE_URL"], "psycopg2")
        )
        with DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
            daily_runs = [
                r
                for r in instance.get_runs()
                if "pwr_agg/member_voice_daily" in {k.to_user_string() for k in r.asset_selection or ()}
            ]
        assert sorted(r.status.value for r in daily_runs) == ["FAILURE", "SUCCESS", "SUCCESS"]
        (stopped,) = [r for r in daily_runs if r.status == DagsterRunStatus.FAILURE]
        if signum == signal.SIGKILL:
            assert stopped.run_id in orphan_lines[0]
    finally:
        drop_database(pg_server_url, dagster_db)


def test_stop_signals_records_ctrl_c_and_sigterm_without_raising_and_restores_the_handlers() -> None:
    before = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
    with StopSignals() as signals:
        assert not signals.received()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # let the handler run
        assert signals.received()
        assert not signals.received()  # read once
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert signals.received()
    assert {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)} == before


def test_a_run_interrupted_inside_its_step_stops_the_graph_with_one_line() -> None:
    """The signal lands while an asset computes (Dagster raises its interrupt there): that run is
    marked failed, its failure is not printed as a stack trace, and no later asset runs."""

    @asset
    def slow_table() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted here

    @asset(deps=[slow_table])
    def downstream() -> None: ...

    lines: list[str] = []
    with instance_for_test() as instance, StopSignals() as signals:
        with pytest.raises(Interrupted):
            materialize_graph(
                Definitions(assets=[slow_table, downstream]),
                instance,
                None,
                echo=lambda t, nl=True: lines.append(t),
                stop_requested=signals.received,
            )
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.FAILURE
    assert lines[-2] == "[1/2] slow_table: (not partitioned) … "
    assert lines[-1].startswith("interrupted after ") and f"(run {run.run_id} marked failed;" in lines[-1]


def test_a_stop_asked_between_runs_starts_no_further_run() -> None:
    @asset
    def first() -> None: ...

    lines: list[str] = []
    with instance_for_test() as instance:
        with pytest.raises(Interrupted):
            materialize_graph(
                Definitions(assets=[first]),
                instance,
                None,
                echo=lambda t, nl=True: lines.append(t),
                stop_requested=lambda: True,
            )
        assert instance.get_runs() == []
    assert lines[-1] == "interrupted: no further run started"


def test_only_unfinished_runs_of_a_dead_materialize_process_are_marked_failed() -> None:
    """The tag names a process by host, boot, pid and start time: a live process (this one), a
    run the daemon launched (no tag), a finished run, another host's process (another machine or
    container: it cannot be seen from here) that started its run just now or said it lives a
    moment ago, and an unreadable tag are left alone; a process that ended, a pid now used by a
    newer process, a boot before this one, or another host's process silent for longer than
    SILENT_AFTER_SECONDS make its unfinished runs failed."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(ended.stdout)
    (mine,) = process_tags().values()
    host, boot, pid, ticks = mine.split("/")
    tags = {
        "live": mine,
        "ended": f"{host}/{boot}/{dead_pid}/1",
        "pid reused": f"{host}/{boot}/{pid}/{int(ticks) - 1}",
        "other boot": f"{host}/00000000-0000-0000-0000-000000000000/{pid}/{ticks}",
        "other host": f"another-{host}/{boot}/{dead_pid}/1",
        "other host, heard": f"another-{host}/{boot}/{dead_pid}/2",
        "other host, silent": f"another-{host}/{boot}/{dead_pid}/3",
        "unreadable": f"{host}/{boot}/not-a-pid/1",
    }
    with instance_for_test() as instance:
        for name, value in tags.items():
            instance.add_run(
                DagsterRun(job_name=name, status=DagsterRunStatus.STARTED, tags={PROCESS_TAG: value})
            )
        instance.add_run(DagsterRun(job_name="by the daemon", status=DagsterRunStatus.STARTED))
        instance.daemon_cursor_storage.set_cursor_values(
            {
                HEARTBEAT_KEY + tags["other host, heard"]: f"{time.time() - 30:.0f}",
                HEARTBEAT_KEY + tags["other host, silent"]: f"{time.time() - SILENT_AFTER_SECONDS - 5:.0f}",
            }
        )
        instance.add_run(
            DagsterRun(
                job_name="finished", status=DagsterRunStatus.SUCCESS, tags={PROCESS_TAG: tags["ended"]}
            )
        )
        failed = fail_orphaned_runs(instance)
        assert sorted(r.job_name for r in failed) == [
            "ended",
            "other boot",
            "other host, silent",
            "pid reused",
        ]
        status = {r.job_name: r.status for r in instance.get_runs()}
        assert status == {
            "live": DagsterRunStatus.STARTED,
            "ended": DagsterRunStatus.FAILURE,
            "pid reused": DagsterRunStatus.FAILURE,
            "other boot": DagsterRunStatus.FAILURE,
            "other host": DagsterRunStatus.STARTED,
            "other host, heard": DagsterRunStatus.STARTED,
            "other host, silent": DagsterRunStatus.FAILURE,
            "unreadable": DagsterRunStatus.STARTED,
            "by the daemon": DagsterRunStatus.STARTED,
            "finished": DagsterRunStatus.SUCCESS,
        }
        (silent,) = [r for r in failed if r.job_name == "other host, silent"]
        said = [entry.message for entry in instance.all_logs(silent.run_id)]
        assert any(
            f"(pid {dead_pid} on another-{host}) has said nothing for" in m
            and "Marked failed by the next" in m
            for m in said
        ), said
        assert fail_orphaned_runs(instance) == []  # once
