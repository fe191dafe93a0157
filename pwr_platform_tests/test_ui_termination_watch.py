"""The watch that lets Terminate in the Dagster UI stop `pwr materialize` survives an unreachable
Dagster storage: no stack trace of its own beside the command's one-line error, and once the
storage answers again it still stops a run whose termination was asked for."""

from __future__ import annotations

import os
import signal
import threading
import time

from pwr_platform.cli.ui_termination import TerminationWatch
from pwr_platform.runtime.dagster_instance import STORAGE_URL_ENV
from pwr_platform.runtime.run_owner import HEARTBEAT_KEY


def test_the_watch_waits_out_an_unreachable_storage_quietly_then_stops_the_canceled_run(
    platform_instance, tmp_path, monkeypatch, capfd
):
    from dagster import DagsterRun, DagsterRunStatus

    platform_instance.add_run(DagsterRun(job_name="asked", run_id="asked", status=DagsterRunStatus.CANCELING))
    reachable = os.environ[STORAGE_URL_ENV]
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # the fixture's dagster.yaml
    monkeypatch.setenv(STORAGE_URL_ENV, "postgresql+psycopg2://postgres@127.0.0.1:1/nowhere")

    interrupted = threading.Event()
    raised = _thread_exceptions(monkeypatch)
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    try:
        with TerminationWatch(poll_seconds=0.1) as watch, watch.watching("asked"):
            assert not interrupted.wait(2.0), "the watch acted without reading the run"
            monkeypatch.setenv(STORAGE_URL_ENV, reachable)
            assert interrupted.wait(15), "the watch gave up after the storage failed once"
    finally:
        signal.signal(signal.SIGINT, previous)
    _, err = capfd.readouterr()
    assert "Traceback" not in err, err
    assert raised == [], raised
    assert watch._thread.is_alive() is False


def test_the_watch_says_nothing_and_sends_nothing_without_a_dagster_home(monkeypatch, capfd):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    interrupted = threading.Event()
    raised = _thread_exceptions(monkeypatch)
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    try:
        with TerminationWatch(poll_seconds=0.05) as watch, watch.watching("any"):
            time.sleep(0.5)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not interrupted.is_set()
    _, err = capfd.readouterr()
    assert "Traceback" not in err, err
    assert raised == [], raised


def _thread_exceptions(monkeypatch) -> list[str]:
    """Exceptions that end a thread (Python would print their stack trace to stderr)."""
    raised: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(repr(args.exc_value)))
    return raised


def test_the_watch_writes_the_commands_heartbeat_while_a_run_goes_and_only_then(
    platform_instance, tmp_path, monkeypatch
):
    """The heartbeat by which the daemon tells a `pwr materialize` of another container or machine
    from a dead one (run_owner.why_gone): written at the first look once a run is watched."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # the fixture's dagster.yaml and storage
    tag = "container-host/boot/4242/17"
    key = HEARTBEAT_KEY + tag

    def heard() -> str | None:
        return platform_instance.daemon_cursor_storage.get_cursor_values({key}).get(key)

    with TerminationWatch(tag, poll_seconds=0.05) as watch:
        time.sleep(0.5)
        assert heard() is None  # no run: nothing is held, nothing to say
        with watch.watching("some-run"):
            deadline = time.monotonic() + 15
            while heard() is None:
                assert time.monotonic() < deadline, "no heartbeat while a run was watched"
                time.sleep(0.05)
    assert abs(float(heard()) - time.time()) < 30
