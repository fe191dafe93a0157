"""Runs of ``pwr materialize`` whose process died: marked failed when the command next starts.

The command executes its runs inside its own process. When that process dies without its
interrupt handling (SIGKILL, the OOM killer, a power cut), no one is left to record the run's end,
and Dagster keeps it as started for good: shown as running in the UI, and holding one of the run
queue's slots (``max_concurrent_runs`` in ``dagster.yaml``), so that a few of them would leave the
daemon launching nothing more — no sensor or schedule run, no fresh dashboards.

So every run the command starts carries its process's identity (boot, pid and start time, the
rule of ``runtime/pid_files.py``: a pid alone may name another process by now), and the next
``pwr materialize`` marks failed the runs not finished whose process is gone. Runs of a command
still running (another terminal) are left alone; so are runs the daemon launched (no such tag),
and runs started on another host name (another machine sharing the Dagster storage, or another
container: its processes cannot be seen from here, so whether they live cannot be told).
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from pwr_platform.runtime.pid_files import boot_id, process_identity

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun

PROCESS_TAG = "pwr/materialize_process"
"""``<host name>/<boot id>/<pid>/<start ticks>`` of the ``pwr materialize`` process that started
the run."""


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
    orphaned = [run for run in unfinished if PROCESS_TAG in run.tags and process_gone(run.tags[PROCESS_TAG])]
    for run in orphaned:
        _, pid = tagged_process(run.tags[PROCESS_TAG])
        instance.report_run_failed(
            run,
            message=(
                f"The `pwr materialize` process that ran this run (pid {pid}) ended without finishing"
                " it (killed); PostgreSQL rolled back what it had not committed. Marked failed by the"
                " next `pwr materialize`."
            ),
        )
    return orphaned
