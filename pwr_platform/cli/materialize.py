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
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import click
import psycopg

from pwr_platform.cli.progress import Bar, attached, progress_bar

if TYPE_CHECKING:  # dagster is imported when the command runs, so `pwr --help` stays fast
    from dagster import AssetKey, DagsterInstance, Definitions, TimeWindowPartitionsDefinition


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

    def run_kwargs(self) -> dict:
        if self.first is None:
            return {}
        if self.first == self.last:
            return {"partition_key": self.first}
        from pwr_platform.defs.partitions import RANGE_END_TAG, RANGE_START_TAG

        return {"tags": {RANGE_START_TAG: self.first, RANGE_END_TAG: self.last}}


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


POSTS_TO_DISCORD = "discord"
"""The kind of an asset whose materialization posts a message (see ``materialize_graph``)."""


def materialize_graph(
    defs: Definitions,
    instance: DagsterInstance,
    window: tuple[datetime, datetime] | None,
    echo: Callable[[str], None] = click.echo,
    bar: Bar | None = None,
) -> bool:
    """Materialize every asset of ``defs`` in topological order; False after the first failure.

    ``bar`` (on a terminal) advances one step per asset, the lines then printed above it.
    """
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
        # source assets are observed (row count, newest event …) so the UI shows their state too
        result = defs.resolve_implicit_job_def_def_for_assets(group).execute_in_process(
            run_config=QUIET_CONSOLE, instance=instance, asset_selection=group, raise_on_error=False
        )
        names = ", ".join(k.to_user_string() for k in group)
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
        job = defs.resolve_implicit_job_def_def_for_assets([key])
        for run in runs:
            echo(f"[{index}/{len(keys)}] {name}: {run.describe()} … ", nl=False)
            started = time.perf_counter()
            result = job.execute_in_process(
                run_config=QUIET_CONSOLE,
                instance=instance,
                asset_selection=[key],
                raise_on_error=False,
                **run.run_kwargs(),
            )
            seconds = time.perf_counter() - started
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


# The runs' full logs go to the instance's event log (the Dagster UI shows them); the terminal
# gets one progress line per run, plus warnings and errors.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@click.command("materialize")
@click.option("--from", "from_day", type=click.DateTime(["%Y-%m-%d"]), help="First day (PWR_TIMEZONE).")
@click.option("--to", "to_day", type=click.DateTime(["%Y-%m-%d"]), help="Last day, inclusive.")
def materialize_cmd(from_day: datetime | None, to_day: datetime | None) -> None:
    """Materialize the whole asset graph through Dagster: every asset, every partition in the range.

    Default range: all partitions that have data. Runs are recorded in the platform's Dagster
    instance, so they show in the UI.
    """
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

    window = resolve_window(url, settings.tz, first, last)
    with DagsterInstance.get() as instance:
        defs = build_definitions()
        if attached():
            with progress_bar("assets", None) as bar:
                ok = materialize_graph(defs, instance, window, echo=bar.echo, bar=bar)
        else:
            ok = materialize_graph(defs, instance, window)
    if not ok:
        sys.exit(1)
