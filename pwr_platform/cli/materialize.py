"""``pwr materialize``: build the whole asset graph through Dagster, with progress output.

Every materializable asset runs in topological order of the Definitions' asset graph, so the
command needs no list of assets and covers whatever the code location holds:

* unpartitioned assets: one run each (assets that post to Discord are left to their schedule);
* time-partitioned assets: the partitions overlapping the chosen dates (default: the span of the
  data in the warehouse), as one run when the asset's ``BackfillPolicy`` allows it (its SQL
  replaces a whole window), in chunks for ``multi_run(n)``, else one run per partition;
* other partitioned assets (e.g. dynamic partitions keyed by event id): every partition key that
  exists in the Dagster instance when the asset's turn comes (so an upstream asset that
  registers keys earlier in the same command is honoured), one run per key unless the policy
  allows ranges.

Runs execute in this process on the platform's Dagster instance (``DAGSTER_HOME`` from
``dagster_env``), so they are recorded there and appear in the Dagster UI like any other run.
The command stops at the first failed run (later assets would read incomplete inputs).

Ctrl-C or SIGTERM stops it too, as an operator expects of a long backfill: the running run is
interrupted (Dagster marks it failed; its uncommitted work rolls back and its statement is
cancelled, see ``WarehouseResource.connect``), one line says so, and the command exits 130.
Finished runs are kept. The interrupt's stack trace stays in the run's log in the Dagster UI.
Terminate, clicked in the UI on the running run, stops it the same way, the run marked canceled
(``ui_termination.py``).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import click
import psycopg

from pwr_platform.cli.progress import Bar, attached, progress_bar
from pwr_platform.cli.ui_termination import TerminationWatch

if TYPE_CHECKING:  # dagster is imported when the command runs, so `pwr --help` stays fast
    from dagster import (
        AssetKey,
        DagsterEvent,
        DagsterInstance,
        Definitions,
        ExecuteInProcessResult,
        LoggerDefinition,
        TimeWindowPartitionsDefinition,
    )

INTERRUPTED_EXIT = 130
"""Exit status after Ctrl-C / SIGTERM (128 + SIGINT, as shells report an interrupted command)."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped ``pwr materialize``; the line saying so is already printed."""


class TerminatedFromUI(Interrupted):
    """Terminate, clicked in the Dagster UI on the running run, stopped ``pwr materialize``."""


# Where the warehouse's data lies in time: raw voice events, sessions, events (tables that are
# not there yet are skipped).
DATA_SPAN_SOURCES = [
    ("pwr_raw.discord_voice_events", "min(event_ts)", "max(event_ts)"),
    ("pwr_raw.discord_scheduled_events", "min(scheduled_start_ts)", "max(scheduled_start_ts)"),
    ("pwr_core.voice_sessions", "min(session_start_ts)", "max(coalesce(session_end_ts, session_start_ts))"),
    (
        "pwr_core.events",
        "min(scheduled_start_ts)",
        "max(greatest(scheduled_start_ts, scheduled_end_ts, actual_start_ts, actual_end_ts))",
    ),
]


@dataclass(frozen=True)
class Run:
    """One Dagster run of one asset: no partition, one partition, or a range (first … last)."""

    key: AssetKey
    first: str | None = None
    last: str | None = None
    count: int = 0

    def describe(self) -> str:
        if self.first is None:
            return "(not partitioned)"
        if self.first == self.last:
            return f"partition {self.first}"
        return f"{self.count} partitions {self.first} … {self.last}"

    def run_kwargs(self, tags: Mapping[str, str] | None = None) -> dict:
        """``execute_in_process`` arguments: the partition or range, and ``tags``."""
        tags = dict(tags or {})
        if self.first is None:
            return {"tags": tags}
        if self.first == self.last:
            return {"partition_key": self.first, "tags": tags}
        from pwr_platform.defs.partitions import RANGE_END_TAG, RANGE_START_TAG

        return {"tags": {**tags, RANGE_START_TAG: self.first, RANGE_END_TAG: self.last}}


def data_span(database_url: str) -> tuple[datetime, datetime] | None:
    """Earliest and latest instant of any data in the warehouse, or None when it is empty."""
    lows, highs = [], []
    with psycopg.connect(database_url) as conn:
        for table, low, high in DATA_SPAN_SOURCES:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
                continue
            lo, hi = conn.execute(f"SELECT {low}, {high} FROM {table}").fetchone()
            lows += [lo] if lo else []
            highs += [hi] if hi else []
    return (min(lows), max(highs)) if lows else None


def _time_keys(
    pdef: TimeWindowPartitionsDefinition, start: datetime, end: datetime, instance: DagsterInstance
) -> list[str]:
    """Existing partitions whose window overlaps [start, end]."""
    keys = pdef.get_partition_keys(dynamic_partitions_store=instance)
    chosen = []
    for key in keys:
        window = pdef.time_window_for_partition_key(key)
        if window.start <= end and window.end > start:
            chosen.append(key)
    return chosen


def _chunks(keys: Sequence[str], size: int | None) -> Iterator[Sequence[str]]:
    size = size or len(keys) or 1  # no keys (an empty warehouse): no chunks, not a zero step
    for i in range(0, len(keys), size):
        yield keys[i : i + size]


def runs_for_asset(
    defs: Definitions, key: AssetKey, instance: DagsterInstance, window: tuple[datetime, datetime] | None
) -> list[Run]:
    from dagster import DynamicPartitionsDefinition, TimeWindowPartitionsDefinition

    node = defs.resolve_asset_graph().get(key)
    pdef = node.partitions_def
    if pdef is None:
        return [Run(key)]
    if isinstance(pdef, TimeWindowPartitionsDefinition):
        keys = _time_keys(pdef, *window, instance) if window else []
    elif isinstance(pdef, DynamicPartitionsDefinition):
        keys = list(instance.get_dynamic_partitions(pdef.name))
    else:
        keys = list(pdef.get_partition_keys(dynamic_partitions_store=instance))
    policy = node.backfill_policy
    if policy is None:
        return [Run(key, k, k, 1) for k in keys]
    return [Run(key, c[0], c[-1], len(c)) for c in _chunks(keys, policy.max_partitions_per_run) if c]


def resolve_window(
    database_url: str, tz, start_day: date | None, end_day: date | None
) -> tuple[datetime, datetime] | None:
    """[start, end] instants to materialize: the given local days (inclusive), else the data's span."""
    span = data_span(database_url)
    if start_day is None and end_day is None:
        return span
    if span is None and (start_day is None or end_day is None):
        return None
    start = datetime.combine(start_day, datetime.min.time(), tz) if start_day else span[0]
    # the last named day counts whole: up to (not including) the next local midnight
    end = (
        datetime.combine(end_day + timedelta(days=1), datetime.min.time(), tz) - timedelta(microseconds=1)
        if end_day
        else span[1]
    )
    return start, end


SKIPPED_CHECK_NOTE = re.compile(r"Dependencies for step \S+ failed: .*\. Not executing\.")
INTERRUPT_ERRORS = ("DagsterExecutionInterruptedError", "KeyboardInterrupt")


def _is_interrupt_failure(event: DagsterEvent) -> bool:
    """A step's or a run's failure event that an interrupt caused (inside a step, or in Dagster's
    own work around the steps), not an error."""
    if event.event_type_value == "STEP_FAILURE":
        return event.step_failure_data.error_source.value == "INTERRUPT"
    if event.event_type_value == "PIPELINE_FAILURE":  # the run's failure event
        error = event.job_failure_data.error
        return error is not None and error.cls_name in INTERRUPT_ERRORS
    # an interrupted run whose termination was asked for in the UI (ui_termination.py)
    return event.event_type_value == "PIPELINE_CANCELED"


def interrupted(result: ExecuteInProcessResult) -> bool:
    """Whether a failed run failed because it was interrupted (Ctrl-C, SIGTERM), not by an error."""
    return any(_is_interrupt_failure(event) for event in result.all_events)


def _failure_error(event: DagsterEvent):
    """The error of a step's or a run's failure event (Dagster's ``SerializableErrorInfo``), else None."""
    if event.event_type_value == "STEP_FAILURE":
        return event.step_failure_data.error
    if event.event_type_value == "PIPELINE_FAILURE":
        return event.job_failure_data.error
    return None


def shortage_of(event: DagsterEvent) -> str | None:
    """When a failure event's error, or an error that caused it, is PostgreSQL running short of
    disk, memory or connections: what it is short of, and PostgreSQL's own words. A stack trace
    says nothing the operator can act on there; the command prints this line instead."""
    from pwr_platform.warehouse.server_errors import shortage_named

    error, seen = _failure_error(event), 0
    while error is not None and seen < 10:  # the chain of causes, as Dagster serialized it
        if short := shortage_named(error.cls_name):
            said = " ".join(error.message.split(":", 1)[-1].split()).rstrip(".")  # "DiskFull: could not…"
            return f"{short}. PostgreSQL said: {said}"
        error, seen = error.cause or error.context, seen + 1
    return None


def run_shortage(result: ExecuteInProcessResult) -> str | None:
    """:func:`shortage_of` for the first failure event of a failed run that has one."""
    return next(filter(None, map(shortage_of, result.all_events)), None)


def _terminal_worthy(record: logging.LogRecord) -> bool:
    """Leave out the failure events an interrupt or a PostgreSQL shortage causes: their stack
    trace says only where the interrupt landed or which statement found the disk full, and the
    command prints one line for each instead. Also Dagster's error line for each check of an asset
    whose step failed ("Dependencies for step … failed … Not executing."): the run's FAILED line
    says it, and those lines cut it off from its "[n/N] asset …" head."""
    if SKIPPED_CHECK_NOTE.search(record.getMessage()):
        return False
    event = getattr(record, "dagster_meta", {}).get("dagster_event")
    return event is None or not (_is_interrupt_failure(event) or shortage_of(event))


class StopSignals:
    """Ctrl-C and SIGTERM while the runs go: they ask the command to stop, and it stops at the
    next run boundary or, inside a run, at once through Dagster's own interrupt.

    Outside runs the handlers only record the signal: a KeyboardInterrupt raised anywhere could
    land in a garbage-collector callback and be lost with a stack trace. During a run Dagster
    installs its own SIGINT handler (and maps SIGTERM to it); a signal that lands in its
    bookkeeping around the steps is kept for later and forgotten when the run ends. Python's
    wakeup fd is written by the C-level handler for every such signal, whichever Python handler
    runs, so reading it before each run sees them all."""

    def __enter__(self) -> StopSignals:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._previous = {n: signal.signal(n, _recorded) for n in (signal.SIGINT, signal.SIGTERM)}
        return self

    def received(self) -> bool:
        try:
            numbers = os.read(self._read, 512)
        except BlockingIOError:
            return False
        return any(n in (signal.SIGINT, signal.SIGTERM) for n in numbers)

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._read)
        os.close(self._write)


def _recorded(signum: int, frame: object) -> None:
    """The handler of :class:`StopSignals`: the wakeup fd has recorded the signal already."""


def terminal_logger() -> LoggerDefinition:
    """Dagster's own console logger (same config, so ``QUIET_CONSOLE`` applies), less the failure
    events of an interrupt or a PostgreSQL shortage (:func:`_terminal_worthy`)."""
    from dagster import colored_console_logger, logger

    @logger(colored_console_logger.config_schema, description=terminal_logger.__doc__)
    def console(init_context):
        log = colored_console_logger.logger_fn(init_context)
        log.addFilter(_terminal_worthy)
        return log

    return console


def _stop_if_requested(stop_requested: Callable[[], bool], echo: Callable[[str], None]) -> None:
    if stop_requested():
        echo("interrupted: no further run started")
        raise Interrupted


def _job(defs: Definitions, keys: Sequence[AssetKey]):
    """The implicit asset job for ``keys``, logging to the terminal through :func:`terminal_logger`."""
    return defs.resolve_implicit_job_def_def_for_assets(keys).with_logger_defs({"console": terminal_logger()})


POSTS_TO_DISCORD = "discord"
"""The kind of an asset whose materialization posts a message (see ``materialize_graph``)."""


def materialize_graph(
    defs: Definitions,
    instance: DagsterInstance,
    window: tuple[datetime, datetime] | None,
    echo: Callable[[str], None] = click.echo,
    bar: Bar | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
    run_tags: Mapping[str, str] | None = None,
    termination: TerminationWatch | None = None,
) -> bool:
    """Materialize every asset of ``defs`` in topological order; False after the first failure.

    ``bar`` (on a terminal) advances one step per asset, the lines then printed above it. An
    interrupted run (Ctrl-C, SIGTERM) gets its line and raises :class:`Interrupted`; so does the
    next run's start once ``stop_requested`` says a stop was asked for. Every run carries
    ``run_tags`` (the command's process, see ``run_owner.py``). ``termination`` watches each run
    for a Terminate clicked in the UI; a run so stopped raises :class:`TerminatedFromUI`.
    """
    execute = partial(_execute, instance, termination)
    graph = defs.resolve_asset_graph()
    keys = [k for k in graph.toposorted_asset_keys if graph.get(k).is_materializable]
    # Assets that post to Discord (the weekly digest) are messages, not tables: building the graph
    # over the whole history must not post one per past week. Their own schedule runs them.
    posts = [k for k in keys if POSTS_TO_DISCORD in graph.get(k).kinds]
    keys = [k for k in keys if k not in posts]
    if posts:
        echo(
            f"Not materialized here (posts to Discord; run by its schedule): {', '.join(k.to_user_string() for k in posts)}"
        )
    if bar is not None:
        bar.update(0, total=len(keys))
    observable = [k for k in graph.toposorted_asset_keys if graph.get(k).is_observable]
    skipped = [
        k.to_user_string()
        for k in graph.toposorted_asset_keys
        if not graph.get(k).is_materializable and k not in observable
    ]
    if skipped:
        echo(f"Not materializable here (external): {', '.join(skipped)}")
    # keys observed by one function (the raw records: five tables, one query) are observed together
    observe_groups: dict[int, list] = {}
    for key in observable:
        observe_groups.setdefault(id(graph.get(key).assets_def), []).append(key)
    for group in observe_groups.values():
        _stop_if_requested(stop_requested, echo)
        # source assets are observed (row count, newest event …) so the UI shows their state too
        result = execute(_job(defs, group), asset_selection=group, tags=dict(run_tags or {}))
        names = ", ".join(k.to_user_string() for k in group)
        if not result.success and interrupted(result):
            if canceled(instance, result):
                echo(f"observing {names}: terminated from the Dagster UI (run {result.run_id} canceled)")
                raise TerminatedFromUI
            echo(f"observing {names}: interrupted (run {result.run_id} marked failed)")
            raise Interrupted
        echo(f"observed {names}: {'ok' if result.success else 'FAILED'} (run {result.run_id[:8]})")
        if not result.success:
            return False
    if window is None:
        echo("No data in the warehouse: time-partitioned assets have no partitions to build.")
    else:
        echo(f"Time window: {window[0].isoformat()} … {window[1].isoformat()}")
    started_all = time.perf_counter()
    for index, key in enumerate(keys, start=1):
        runs = runs_for_asset(defs, key, instance, window)
        name = key.to_user_string()
        if bar is not None:
            bar.advance(0, note=name)
        if not runs:
            echo(f"[{index}/{len(keys)}] {name}: no partitions in range, skipped")
            if bar is not None:
                bar.advance()
            continue
        job = _job(defs, [key])
        for run in runs:
            _stop_if_requested(stop_requested, echo)
            echo(f"[{index}/{len(keys)}] {name}: {run.describe()} … ", nl=False)
            started = time.perf_counter()
            result = execute(job, asset_selection=[key], **run.run_kwargs(run_tags))
            seconds = time.perf_counter() - started
            if not result.success and interrupted(result) and canceled(instance, result):
                echo(
                    f"terminated from the Dagster UI after {seconds:.1f}s (run {result.run_id}"
                    " canceled; what it had not committed was rolled back)"
                )
                raise TerminatedFromUI
            if not result.success and interrupted(result):
                echo(
                    f"interrupted after {seconds:.1f}s (run {result.run_id} marked failed; what it"
                    " had not committed was rolled back)"
                )
                raise Interrupted
            if not result.success and (short := run_shortage(result)):
                echo(
                    f"FAILED after {seconds:.1f}s (run {result.run_id}; nothing of it was committed):"
                    f" {short}. Then run `pwr materialize` again."
                )
                return False
            if not result.success:
                echo(f"FAILED after {seconds:.1f}s (run {result.run_id}; see the Dagster UI or its logs)")
                return False
            evaluations = result.get_asset_check_evaluations()
            failed_checks = [e.check_name for e in evaluations if not e.passed]
            note = (
                f", {len(evaluations) - len(failed_checks)}/{len(evaluations)} checks passed"
                if evaluations
                else ""
            )
            note += f", FAILED checks: {', '.join(failed_checks)}" if failed_checks else ""
            echo(f"ok in {seconds:.1f}s (run {result.run_id[:8]}{note})")
        if bar is not None:
            bar.advance()
    echo(f"Materialized {len(keys)} assets in {time.perf_counter() - started_all:.1f}s.")
    return True


def _execute(
    instance: DagsterInstance, termination: TerminationWatch | None, job, **kwargs
) -> ExecuteInProcessResult:
    """One run of ``job`` in this process, watched for a Terminate clicked in the UI (its run id
    is chosen here so that the watch knows it before the run starts)."""
    run_id = str(uuid.uuid4())  # as Dagster makes one
    watched = termination.watching(run_id) if termination is not None else nullcontext()
    with watched:
        return job.execute_in_process(
            run_config=QUIET_CONSOLE, instance=instance, raise_on_error=False, run_id=run_id, **kwargs
        )


def canceled(instance: DagsterInstance, result: ExecuteInProcessResult) -> bool:
    """Whether an interrupted run ended canceled: its termination was asked for in the UI."""
    from dagster import DagsterRunStatus

    run = instance.get_run_by_id(result.run_id)
    return run is not None and run.status == DagsterRunStatus.CANCELED


# The runs' full logs go to the instance's event log (the Dagster UI shows them); the terminal
# gets one progress line per run, plus warnings and errors.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


STORAGE_FALLBACK_NOTES = (
    "Exception while storing event batch: ",
    "Falling back to storing multiple single-event",
)


class _LeaveOutStorageFallbackNotes:
    """``sys.stderr`` less the two notes Dagster writes there when its event storage refuses a
    batch of events (before it tries them one by one): the first holds the whole failed INSERT
    with every parameter, tens of kilobytes for a backfill's planned events. When the storage
    refuses for good (its PostgreSQL's disk full), the one-by-one write raises the same error and
    the command ends with one line naming it; when the batch alone was refused, nothing is lost."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return len(text) if text.startswith(STORAGE_FALLBACK_NOTES) else self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextmanager
def _storage_fallback_notes_left_out() -> Iterator[None]:
    stderr, sys.stderr = sys.stderr, _LeaveOutStorageFallbackNotes(sys.stderr)
    try:
        yield
    finally:
        sys.stderr = stderr


@click.command("materialize")
@click.option("--from", "from_day", type=click.DateTime(["%Y-%m-%d"]), help="First day (PWR_TIMEZONE).")
@click.option("--to", "to_day", type=click.DateTime(["%Y-%m-%d"]), help="Last day, inclusive.")
def materialize_cmd(from_day: datetime | None, to_day: datetime | None) -> None:
    """Materialize the whole asset graph through Dagster: every asset, every partition in the range.

    Default range: all partitions that have data. Runs are recorded in the platform's Dagster
    instance, so they show in the UI. Ctrl-C / SIGTERM: the running run is marked failed and
    rolled back, finished runs are kept, exit status 130. Terminate on the running run in the
    Dagster UI does the same, the run marked canceled.
    """
    # SIGTERM (a supervisor, `kill`) stops the command as Ctrl-C does: by a KeyboardInterrupt until
    # the runs begin, then through StopSignals
    signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGINT))
    # psycopg's note that it could not roll back a transaction block whose statement an interrupt
    # cut short: the connection's owner cancels that statement and closes the connection
    # (WarehouseResource.connect), so the note is noise on the operator's terminal
    logging.getLogger("psycopg").addFilter(
        lambda record: not record.getMessage().startswith("error ignored in rollback")
    )
    try:
        with _storage_fallback_notes_left_out():
            ok = _materialize(from_day, to_day)
    except (Interrupted, KeyboardInterrupt) as stop:
        if isinstance(stop, KeyboardInterrupt):  # before the runs began
            click.echo("interrupted before the first run")
        who = "Terminated from the Dagster UI" if isinstance(stop, TerminatedFromUI) else "Interrupted"
        click.echo(
            f"{who}: the runs that finished are kept; run `pwr materialize` again to build the rest.",
            err=True,
        )
        sys.exit(INTERRUPTED_EXIT)
    if not ok:
        sys.exit(1)


def _materialize(from_day: datetime | None, to_day: datetime | None) -> bool:
    from dagster import DagsterInstance

    from pwr_platform.cli.dates import in_span
    from pwr_platform.cli.ingest import checked_warehouse
    from pwr_platform.runtime.dagster_instance import apply_env
    from pwr_platform.settings import get_settings

    settings = get_settings()
    first = in_span(from_day.date(), "--from") if from_day else None
    last = in_span(to_day.date(), "--to") if to_day else None
    if first and last and last < first:
        raise click.BadParameter(f"--to is before --from ({last} < {first})")
    # an unreachable or unmigrated warehouse is one line here, not a failed Dagster run per asset
    url = checked_warehouse()
    apply_env(settings, start=True)
    from pwr_platform.definitions import build_definitions
    from pwr_platform.runtime.run_owner import PROCESS_TAG, fail_orphaned_runs, process_tags

    window = resolve_window(url, settings.tz, first, last)
    with (
        DagsterInstance.get() as instance,
        StopSignals() as signals,
        TerminationWatch(process_tags().get(PROCESS_TAG)) as termination,
    ):
        for run in fail_orphaned_runs(instance):
            assets = ", ".join(sorted(k.to_user_string() for k in run.asset_selection or ())) or run.job_name
            click.echo(
                f"marked failed: run {run.run_id} ({assets}), left unfinished by a `pwr materialize` that ended without recording its end (killed, or its Dagster storage failed)"
            )
        defs = build_definitions()
        graph = partial(
            materialize_graph,
            defs,
            instance,
            window,
            stop_requested=signals.received,
            run_tags=process_tags(),
            termination=termination,
        )
        if attached():
            with progress_bar("assets", None) as bar:
                return graph(echo=bar.echo, bar=bar)
        return graph()
