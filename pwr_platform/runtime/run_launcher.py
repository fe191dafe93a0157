"""The instance's run launcher: Dagster's default one, which also terminates runs of ``pwr materialize``.

Runs launched by the UI, sensors and schedules are executed by the code server, and the default
launcher terminates them through it. Runs of ``pwr materialize`` are executed inside that
command's process (``cli/materialize.py``), which the default launcher cannot reach: the UI's
Terminate answered "Unable to terminate run" and left the run CANCELING.

For such a run (tagged with its process, ``run_owner.py``) this launcher records the request
(status CANCELING) and answers that it was sent: the command reads its run's status every second
and stops the run itself (``cli/ui_termination.py``), whichever host or container it runs in,
since the Dagster storage is shared. When the tag names a process of this host that is gone, no
one is left to act on the request: the launcher says so in the run's log and answers False, so
the UI offers *Force termination* (which marks the run canceled), as for any run whose worker
died.

The daemon's run monitoring (``run_monitoring`` in ``dagster.yaml``) asks the launcher, every
minute, whether each started run's worker lives. For a run of ``pwr materialize`` that is whether
the command lives (``run_owner.why_gone``: its process on this host, its heartbeat from another
one); a dead one's run is marked failed with the reason, so it no longer holds a slot of the run
queue. Runs executed by the code server's run workers are answered RUNNING, as before: Dagster's
default launcher cannot check them.
"""

from __future__ import annotations

from dagster import DagsterRun, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

from pwr_platform.runtime.run_owner import PROCESS_TAG, tagged_process, why_gone


class MaterializeAwareRunLauncher(DefaultRunLauncher):
    """:class:`DefaultRunLauncher`, plus termination and health of the runs of a ``pwr materialize`` process."""

    def terminate(self, run_id: str) -> bool:
        if not self.has_instance:
            return False
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or PROCESS_TAG not in run.tags:
            return super().terminate(run_id)
        host, pid = tagged_process(run.tags[PROCESS_TAG])
        if why_gone(self._instance, run):
            self._instance.report_engine_event(
                message=(
                    f"The `pwr materialize` process that ran this run (pid {pid} on {host}) is gone:"
                    " nothing is left to stop. Use Force termination; the daemon's run monitoring, or"
                    " the next `pwr materialize`, marks it failed."
                ),
                dagster_run=run,
                cls=self.__class__,
            )
            return False
        self._instance.report_run_canceling(
            run,
            message=(
                f"Sending run termination request to the `pwr materialize` process that runs it"
                f" (pid {pid} on {host}): it stops the run within seconds."
            ),
        )
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        why = why_gone(self._instance, run) if self.has_instance else None
        if why is None:  # alive, not yet known, or a code server's run worker (not checked)
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"{why}; PostgreSQL rolled back what it had not committed. Marked failed by the daemon's run monitoring.",
        )
