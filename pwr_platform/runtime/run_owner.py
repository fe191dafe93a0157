"""Runs of ``pwr materialize`` whose process died: marked failed, by the daemon or the next command.

The command executes its runs inside its own process. When that process dies without its
interrupt handling (SIGKILL, the OOM killer, a power cut, a container stopped), no one is left to
record the run's end, and Dagster keeps it as started for good: shown as running in the UI, and
holding one of the run queue's slots (``max_concurrent_runs`` in ``dagster.yaml``), so that a few
of them would leave the daemon launching nothing more — no sensor or schedule run, no fresh
dashboards.

So every run the command starts carries its process's identity (boot, pid and start time, the
rule of ``runtime/pid_files.py``: a pid alone may name another process by now), and while it
executes a run the command writes a heartbeat into the Dagster storage every
:data:`HEARTBEAT_SECONDS` (``cli/ui_termination.py``). A run not finished is taken for orphaned
(:func:`why_gone`) when its process is of this host and gone, or when it is of another host
name (another container or machine sharing the Dagster storage, whose processes cannot be seen
from here) and has been silent for :data:`SILENT_AFTER_SECONDS`. The daemon's run monitoring
asks this of every started run (``runtime/run_launcher.py``) and marks such a run failed within
a minute or two; the next ``pwr materialize`` does the same for every unfinished one. Runs the
daemon launched (no such tag) are left to Dagster.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

from pwr_platform.runtime.pid_files import boot_id, process_identity

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun

PROCESS_TAG = "pwr/materialize_process"
"""``<host name>/<boot id>/<pid>/<start ticks>`` of the ``pwr materialize`` process that started
the run."""

HEARTBEAT_SECONDS = 20.0
"""How often a ``pwr materialize`` executing a run says, in the Dagster storage, that it lives."""

SILENT_AFTER_SECONDS = 180.0
"""A process of another host silent this long is taken for gone: nine heartbeats missed, far more
than a slow storage or two clocks' drift would explain."""

HEARTBEAT_KEY = "pwr/materialize_heartbeat/"
"""Key prefix, in the Dagster storage's key-value table, of a process's last heartbeat (epoch
seconds; one row per invocation of the command)."""


def process_tags() -> dict[str, str]:
    """The tag naming this process, for every run it starts."""
    me = process_identity(os.getpid())
    if me is None:  # no /proc: the runs go untagged, and cannot be found orphaned later
        return {}
    return {PROCESS_TAG: f"{socket.gethostname()}/{me.boot_id}/{me.pid}/{me.start_ticks}"}


def tagged_process(value: str) -> tuple[str, str]:
    """The host name and pid a process tag names, for messages ("?" for what it lacks)."""
    host, _, pid, _ = (value.split("/") + ["?"] * 4)[:4]
    return host, pid


def process_gone(value: str) -> bool:
    """Whether the process a tag names has ended (this host rebooted, no such pid, or a newer
    process under its pid). An unreadable value, or another host's process, is not taken for a
    dead process."""
    try:
        host, boot, pid, ticks = value.split("/")
        pid_number, start_ticks = int(pid), int(ticks)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    if boot != boot_id():
        return True
    live = process_identity(pid_number)
    return live is None or live.start_ticks != start_ticks


def record_heartbeat(instance: DagsterInstance, tag_value: str) -> None:
    """Say, in the Dagster storage, that the process ``tag_value`` names lives (now)."""
    instance.daemon_cursor_storage.set_cursor_values({HEARTBEAT_KEY + tag_value: f"{time.time():.0f}"})


def why_gone(instance: DagsterInstance, run: DagsterRun) -> str | None:
    """Why the ``pwr materialize`` process that started ``run`` is taken for gone, in words for the
    run's log; None when it lives, when that cannot be told yet, or when no such process ran it."""
    value = run.tags.get(PROCESS_TAG)
    if value is None:
        return None
    host, pid = tagged_process(value)
    if host == socket.gethostname():
        if process_gone(value):
            return f"The `pwr materialize` process that ran this run (pid {pid}) ended without finishing it (killed)"
        return None
    key = HEARTBEAT_KEY + value
    seen = instance.daemon_cursor_storage.get_cursor_values({key}).get(key)
    if seen is not None:
        last = float(seen)
    else:  # a run of a version without the heartbeat, or one that had not yet written it
        record = instance.get_run_record_by_id(run.run_id)
        if record is None:
            return None
        last = record.start_time or record.create_timestamp.timestamp()
    silent = time.time() - last
    if silent < SILENT_AFTER_SECONDS:
        return None
    return (
        f"The `pwr materialize` process that ran this run (pid {pid} on {host}) has said nothing for"
        f" {silent:.0f} s (its container or machine stopped, or it was killed)"
    )


def fail_orphaned_runs(instance: DagsterInstance) -> list[DagsterRun]:
    """Mark failed the unfinished runs whose ``pwr materialize`` process is gone; returns them."""
    from dagster import DagsterRunStatus, RunsFilter

    unfinished = instance.get_runs(
        filters=RunsFilter(
            statuses=[
                DagsterRunStatus.NOT_STARTED,
                DagsterRunStatus.STARTING,
                DagsterRunStatus.STARTED,
                DagsterRunStatus.CANCELING,
            ]
        )
    )
    orphaned = [(run, why) for run in unfinished if (why := why_gone(instance, run))]
    for run, why in orphaned:
        instance.report_run_failed(
            run,
            message=f"{why}; PostgreSQL rolled back what it had not committed. Marked failed by the next `pwr materialize`.",
        )
    return [run for run, _ in orphaned]
