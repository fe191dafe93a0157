"""*Terminate*, clicked in the Dagster UI on a run of ``pwr materialize``, stops that run.

The command executes its runs in its own process, not through the instance's run launcher. The
UI's Terminate asks the run launcher, which knows nothing of such a run: Dagster answered
"Unable to terminate run", left the run CANCELING, and the command went on to commit it and
every asset after it. *Force termination* marked the run CANCELED while the command went on
writing to the warehouse, so the UI said canceled of data that was committed.

So the command watches the run it is executing, as Dagster's own run worker watches for a
termination request: once the run's status is CANCELING or CANCELED, the command interrupts
itself as Ctrl-C does. Dagster then ends the run as canceled (its rule for an interrupted run
whose status says termination was asked for), PostgreSQL rolls back what the run had not
committed, and the command stops with one line saying who stopped it.

The same thread writes the command's heartbeat into the Dagster storage while a run goes
(``runtime/run_owner.py``): if the command is killed in a container or on another machine, the
daemon's run monitoring sees the silence and marks its run failed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

POLL_SECONDS = 1.0
"""How often the run's status is read: one indexed read of the run storage a second, while a run goes."""


class TerminationWatch:
    """A thread that reads the status of the run being executed (see :meth:`watching`) and
    sends this process SIGINT once a termination of it was asked for, at most once per run; and,
    while a run goes, writes the heartbeat of the process ``process_tag`` names (when given)."""

    def __init__(self, process_tag: str | None = None, poll_seconds: float = POLL_SECONDS) -> None:
        self._process_tag = process_tag
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._run_id: str | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pwr-termination-watch", daemon=True)

    def __enter__(self) -> TerminationWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)

    @contextmanager
    def watching(self, run_id: str) -> Iterator[None]:
        """Watch ``run_id`` while the block executes it; once the block is left, no signal is sent
        for it (the check and the signal happen under the same lock)."""
        with self._lock:
            self._run_id = run_id
        try:
            yield
        finally:
            with self._lock:
                self._run_id = None

    def _watch(self) -> None:
        from dagster import DagsterInstance, DagsterRunStatus

        from pwr_platform.runtime.run_owner import HEARTBEAT_SECONDS, record_heartbeat

        asked = {DagsterRunStatus.CANCELING, DagsterRunStatus.CANCELED}
        signalled: set[str] = set()
        # Its own instance (the environment is the command's): the main thread's is busy with the
        # run. Opened at the first look and again after a failed one, inside the same ``try``: when
        # the Dagster storage is unreachable the command's runs meet it too and say so in one line,
        # so this thread must not add a stack trace of its own; it looks again a second later.
        instance = None
        beat_at = float("-inf")
        try:
            while not self._stopped.wait(self._poll_seconds):
                run_id = self._run_id
                if run_id is None or run_id in signalled:
                    continue
                try:
                    if instance is None:
                        instance = DagsterInstance.get()
                    if self._process_tag and time.monotonic() - beat_at >= HEARTBEAT_SECONDS:
                        record_heartbeat(instance, self._process_tag)
                        beat_at = time.monotonic()
                    run = instance.get_run_by_id(run_id)
                except Exception:  # noqa: BLE001 - storage unreachable: the run meets it too; look again
                    instance = _disposed(instance)
                    continue
                with self._lock:
                    if run is not None and run.status in asked and self._run_id == run_id:
                        signalled.add(run_id)
                        os.kill(os.getpid(), signal.SIGINT)
        finally:
            _disposed(instance)


def _disposed(instance) -> None:
    """Close ``instance`` if there is one, quietly (its storage may be what failed); return None,
    so the next look opens a fresh one."""
    if instance is not None:
        with suppress(Exception):  # closing a broken pool: nothing to tell the user
            instance.dispose()
    return None
