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
"""

from __future__ import annotations

from dagster import DefaultRunLauncher

from pwr_platform.runtime.run_owner import PROCESS_TAG, process_gone, tagged_process


class MaterializeAwareRunLauncher(DefaultRunLauncher):
    """:class:`DefaultRunLauncher`, plus termination of the runs of a ``pwr materialize`` process."""

    def terminate(self, run_id: str) -> bool:
        if not self.has_instance:
            return False
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or PROCESS_TAG not in run.tags:
            return super().terminate(run_id)
        host, pid = tagged_process(run.tags[PROCESS_TAG])
        if process_gone(run.tags[PROCESS_TAG]):
            self._instance.report_engine_event(
                message=(
                    f"The `pwr materialize` process that ran this run (pid {pid}) is gone: nothing is"
                    " left to stop. Use Force termination, or run `pwr materialize` again, which marks"
                    " it failed."
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
