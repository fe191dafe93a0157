"""Engineers in the Dagster UI: materialize an asset, backfill every partition as one run, and
*Terminate* a run that is stuck in PostgreSQL.

Real parts throughout: the Dagster code server, webserver and daemon as `pwr up` starts them
(their storage on the suite's PostgreSQL), a warehouse built by `pwr simulate` and
`pwr materialize`, and a real headless Chromium clicking the UI's own buttons. A second
connection holds a lock the run needs, so the run is caught at a known point:

* a plain table's run waits on its first statement;
* a whole-history backfill of ``member_voice_daily`` has dropped its keys, emptied the table and
  written it again (``defs/agg/windows.py``) and waits on the stale-day marks it consumes last.

Terminate must then end the run (CANCELED), end its PostgreSQL statement (no backend of it left,
nothing written once the lock is released), and leave the table whole, keys and indexes included;
the same click on Materialize afterwards must write what the asset's SQL says. The same holds for
a run of `pwr materialize`, which executes its runs in its own process: Terminate and Force
termination stop the command at that run (``runtime/run_launcher.py``, ``cli/ui_termination.py``).
*Cancel backfill* on a backfill's page ends its run the same way. And a `pwr materialize` killed
outright leaves a run no one ends: the daemon's run monitoring must mark it failed on its own.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from pwr_platform.runtime.dagster_instance import RUN_MONITORING_SECONDS, dagster_env
from pwr_platform.runtime.run_owner import PROCESS_TAG, tagged_process
from pwr_platform.runtime.services import start_dagster
from pwr_platform.runtime.stack_status import _environment, daemon_heartbeats
from pwr_platform.settings import PwrSettings
from pwr_platform_tests.conftest import create_database, drop_database, run_pwr, start_pwr
from pwr_platform_tests.demo_warehouse import scratch_warehouse
from pwr_platform_tests.superset_support import CHROMIUM, CHROMIUM_FLAGS
from pwr_platform_tests.test_writer import free_port

ARTIFACTS = Path(__file__).resolve().parent.parent / ".pwr" / "test-artifacts" / "dagster-ui"
ENDED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
# The run queue is read every 15 s (DEQUEUE_INTERVAL_SECONDS) and a run worker takes seconds to
# start: a generous bound, reached only when something is wrong.
RUN_START_S = 180


@pytest.fixture(scope="module")
def stack(
    pg_server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PwrSettings, dict[str, str]]]:
    """A demo warehouse materialized by `pwr materialize` into the stack's own Dagster storage (so
    the UI knows every upstream asset, as after `make up`), then the Dagster services started."""
    home = tmp_path_factory.mktemp("dagster_ui_home")
    with scratch_warehouse(pg_server_url, template_db, "pwr_test_dagster_ui") as url:
        storage_name = f"pwr_test_dagster_ui_storage_{uuid.uuid4().hex[:8]}"
        storage = create_database(pg_server_url, storage_name)
        ports = {name: free_port() for name in ("dagster", "superset", "code_server")}
        env = {
            "PWR_HOME": str(home),
            "PWR_DATABASE_URL": url,
            "PWR_DAGSTER_DATABASE_URL": storage,
            "PWR_DAGSTER_PORT": str(ports["dagster"]),
            "PWR_SUPERSET_PORT": str(ports["superset"]),
            "PWR_CODE_SERVER_PORT": str(ports["code_server"]),
        }
        # the services and their runs take the warehouse from the environment, as under `pwr up`
        with pytest.MonkeyPatch.context() as env_of_the_module:
            for key, value in env.items():
                env_of_the_module.setenv(key, value)
            try:
                for args in (
                    ("simulate", "--members", "40", "--days", "21", "--seed", "11"),
                    ("materialize",),
                ):
                    done = run_pwr(env, *args)
                    assert done.returncode == 0, done.stdout + done.stderr
                settings = PwrSettings()
                start_dagster(settings)
                deadline = time.monotonic() + 600
                while not daemon_heartbeats(settings)[0]:  # the run queue is the daemon's
                    assert time.monotonic() < deadline, "the daemon wrote no healthy heartbeat in 600 s"
                    time.sleep(1)
                yield settings, env
            finally:
                down = run_pwr(env, "down")
                drop_database(pg_server_url, storage_name)
        assert down.returncode == 0, down.stdout + down.stderr


@contextmanager
def stack_instance(settings: PwrSettings) -> Iterator[DagsterInstance]:
    with _environment(dagster_env(settings)), DagsterInstance.get() as instance:
        yield instance


def ui_runs(settings: PwrSettings) -> dict[str, DagsterRun]:
    """Every run launched from the UI, by id."""
    with stack_instance(settings) as instance:
        runs = instance.get_runs(filters=RunsFilter(tags={"dagster/from_ui": "true"}))
    return {run.run_id: run for run in runs}


def new_ui_runs(settings: PwrSettings, seen: set[str], count: int = 1) -> list[DagsterRun]:
    """The ``count`` runs launched from the UI since ``seen`` (then added to it)."""
    deadline = time.monotonic() + RUN_START_S
    while len(new := [r for run_id, r in ui_runs(settings).items() if run_id not in seen]) < count:
        assert time.monotonic() < deadline, f"{count} runs not launched from the UI in {RUN_START_S} s"
        time.sleep(0.5)
    assert len(new) == count, [r.run_id for r in new]
    seen.update(r.run_id for r in new)
    return new


def ended(settings: PwrSettings, run_id: str, within_s: float) -> DagsterRunStatus:
    deadline = time.monotonic() + within_s
    while (status := ui_runs(settings)[run_id].status) not in ENDED:
        assert time.monotonic() < deadline, f"run {run_id} still {status.value} after {within_s:.0f} s"
        time.sleep(0.5)
    return status


def backends(url: str, *leave_out: int) -> list[tuple]:
    """The warehouse's other client sessions: pid, what they wait on, their statement's start."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT pid, wait_event_type, left(query, 80) FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_type = 'client backend' "
            "AND pid <> pg_backend_pid() AND NOT pid = ANY(%s)",
            (list(leave_out),),
        ).fetchall()


def waiting_backend(url: str, locker: psycopg.Connection, statement_like: str) -> int:
    """The pid of the run's session once it waits on the locker's lock in ``statement_like``."""
    deadline = time.monotonic() + RUN_START_S
    while True:
        waiting = [
            pid
            for pid, wait, query in backends(url, locker.info.backend_pid)
            if wait == "Lock" and statement_like in query
        ]
        if waiting:
            return waiting[0]
        assert time.monotonic() < deadline, f"no run waited on the lock within {RUN_START_S} s"
        time.sleep(0.5)


def table_state(url: str, table: str, order_by: str) -> tuple[list[tuple], list[str]]:
    """Every row, in order, and the table's keys and indexes as the catalog defines them. Read
    with a lock timeout: a table a run still holds fails the test rather than hanging it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY {order_by}").fetchall()  # noqa: S608 - constants
        keys = [
            definition
            for (definition,) in conn.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname || '.' || tablename = %s "
                "ORDER BY 1",
                (table, table),
            )
        ]
    return rows, keys


def holds_exclusive_lock(url: str, pid: int, table: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND relation = %s::regclass "
            "AND mode = 'AccessExclusiveLock' AND granted)",
            (pid, table),
        ).fetchone()[0]


def terminate_in_ui(page, base: str, run_id: str, *, force: bool = False) -> None:
    """The run's page, its Terminate button, and the dialog's confirmation, as an engineer does;
    with ``force``, ticking *Force termination immediately* first. The dialog must answer that
    the termination was requested (it used to say "Could not request termination" of a run of
    `pwr materialize`)."""
    page.goto(f"{base}/runs/{run_id}", wait_until="networkidle")
    page.locator("button", has_text="Terminate").first.click()
    dialog = page.locator("[role=dialog]")
    if force:
        dialog.get_by_text("Force termination immediately").click()
    dialog.locator("button", has_text=re.compile(r"^(Terminate|Force termination for) 1 run$")).click()
    if not force:  # a forced one is marked canceled at once, and the dialog closes
        dialog.get_by_text("Successfully requested termination").wait_for()


def materialize_in_ui(page, base: str, asset: str, *, all_partitions: bool = False) -> None:
    """The asset's page and its Materialize button; for a partitioned asset, every partition (the
    dialog shows the last 90 days unless asked) launched as one backfill."""
    page.goto(f"{base}/assets/{asset}", wait_until="networkidle")
    page.locator("button", has_text="Materialize").first.click()
    if all_partitions:
        dialog = page.locator("[role=dialog]")
        dialog.get_by_text("Show all partitions").click()
        dialog.locator("button", has_text="All").first.click()
        dialog.get_by_text("Backfills all partitions in a single run.").wait_for()
        dialog.locator("button", has_text="Launch backfill").click()


@contextmanager
def browser_page(name: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        except BaseException:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
            raise
        finally:
            browser.close()


@contextmanager
def locked(url: str, statement: str) -> Iterator[psycopg.Connection]:
    """A session holding ``statement``'s lock until the block ends (then rolled back)."""
    with psycopg.connect(url) as locker:
        locker.execute(statement)
        try:
            yield locker
        finally:
            locker.rollback()


def test_terminate_in_the_ui_cancels_the_runs_sql_and_leaves_every_table_whole(
    stack: tuple[PwrSettings, dict[str, str]],
) -> None:
    settings, env = stack
    url = env["PWR_DATABASE_URL"]
    base = f"http://127.0.0.1:{env['PWR_DAGSTER_PORT']}"
    seen = set(ui_runs(settings))

    trend_before = table_state(url, "pwr_agg.member_trend", "member_id")
    daily_before = table_state(url, "pwr_agg.member_voice_daily", "activity_date, member_id")
    assert trend_before[0] and daily_before[0] and daily_before[1], "the demo warehouse is empty"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM pwr_agg.member_trend")  # a run that writes at all refills it

    with browser_page("terminate") as page:
        # 1. A plain table's run, waiting on its first statement, terminated.
        with locked(url, "LOCK TABLE pwr_agg.member_trend IN ACCESS EXCLUSIVE MODE") as locker:
            materialize_in_ui(page, base, "pwr_agg/member_trend")
            (run,) = new_ui_runs(settings, seen)
            pid = waiting_backend(url, locker, "pwr_agg.member_trend")
            terminate_in_ui(page, base, run.run_id)
            assert ended(settings, run.run_id, 60) == DagsterRunStatus.CANCELED
            assert pid not in [p for p, *_ in backends(url, locker.info.backend_pid)], (
                "the run was marked canceled, but its statement still waits in PostgreSQL"
            )
        time.sleep(2)  # the lock is free: a statement that had survived would run now
        assert table_state(url, "pwr_agg.member_trend", "member_id") == ([], trend_before[1])

        # 2. A whole-history backfill, terminated after it emptied and rewrote the table (its
        # keys dropped until the end of its transaction), while it waits to consume the marks.
        with locked(url, "LOCK TABLE pwr_core.stale_aggregate_days IN EXCLUSIVE MODE") as locker:
            materialize_in_ui(page, base, "pwr_agg/member_voice_daily", all_partitions=True)
            (run,) = new_ui_runs(settings, seen)
            assert run.tags.get("dagster/backfill"), run.tags
            assert run.tags.get("dagster/asset_partition_range_start") == "2024-01-01", run.tags
            pid = waiting_backend(url, locker, "Delete the marks read before the run")
            assert holds_exclusive_lock(url, pid, "pwr_agg.member_voice_daily"), (
                "the run is not inside its whole-table rebuild"
            )
            terminate_in_ui(page, base, run.run_id)
            assert ended(settings, run.run_id, 60) == DagsterRunStatus.CANCELED
            assert pid not in [p for p, *_ in backends(url, locker.info.backend_pid)]
            # readers see the table as before at once: rows, primary key, foreign key, index
            assert table_state(url, "pwr_agg.member_voice_daily", "activity_date, member_id") == daily_before
            page.goto(f"{base}/runs/{run.run_id}", wait_until="networkidle")
            page.get_by_text("Canceled", exact=True).first.wait_for()

        # 3. The same buttons afterwards (both runs queued together) write what the assets' SQL
        # says, as `pwr materialize` did before.
        materialize_in_ui(page, base, "pwr_agg/member_trend")
        relaunched = new_ui_runs(settings, seen)  # queued: the click's request is done
        materialize_in_ui(page, base, "pwr_agg/member_voice_daily", all_partitions=True)
        relaunched += new_ui_runs(settings, seen)
        for run in relaunched:
            assert ended(settings, run.run_id, RUN_START_S) == DagsterRunStatus.SUCCESS, run.run_id
        assert table_state(url, "pwr_agg.member_trend", "member_id") == trend_before
        assert table_state(url, "pwr_agg.member_voice_daily", "activity_date, member_id") == daily_before


def started_run_of(settings: PwrSettings, pid: int) -> DagsterRun:
    """The started run of the `pwr materialize` process ``pid`` (its process tag, run_owner.py)."""
    deadline = time.monotonic() + RUN_START_S
    while True:
        with stack_instance(settings) as instance:
            runs = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED]))
        mine = [
            r for r in runs if PROCESS_TAG in r.tags and tagged_process(r.tags[PROCESS_TAG])[1] == str(pid)
        ]
        if mine:
            return mine[0]
        assert time.monotonic() < deadline, f"no started run of pwr materialize (pid {pid})"
        time.sleep(0.5)


@contextmanager
def materialize_held_on_daily(
    settings: PwrSettings, env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen, DagsterRun]]:
    """`pwr materialize` started while a second session holds the daily table's lock: its process
    and its started run, once its daily run waits on that lock. When the block ends the process is
    killed (if it still runs) and the lock released."""
    url = env["PWR_DATABASE_URL"]
    with locked(url, "LOCK TABLE pwr_agg.member_voice_daily IN ACCESS EXCLUSIVE MODE") as locker:
        proc = start_pwr(env, "materialize")
        try:
            waiting_backend(url, locker, "pwr_agg.member_voice_daily")
            yield proc, started_run_of(settings, proc.pid)
        finally:
            proc.kill()


def test_terminate_in_the_ui_stops_pwr_materialize_at_its_run_and_commits_nothing(
    stack: tuple[PwrSettings, dict[str, str]],
) -> None:
    """`pwr materialize` runs the graph in its own process, out of the default run launcher's
    reach: Terminate in the UI used to answer "Unable to terminate run" and leave the run
    CANCELING while the command committed it and every asset after it; Force termination marked it
    canceled while it went on writing. Both must stop the command at that run, commit nothing of
    it, run no further asset, and say so in one line; the next `pwr materialize` builds the rest."""
    settings, env = stack
    url = env["PWR_DATABASE_URL"]
    base = f"http://127.0.0.1:{env['PWR_DAGSTER_PORT']}"
    daily = ("pwr_agg.member_voice_daily", "activity_date, member_id")
    whole = table_state(url, *daily)
    with browser_page("terminate-materialize") as page:
        for force in (False, True):
            # one day's rows gone: a daily run that commits anything writes them again
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    "DELETE FROM pwr_agg.member_voice_daily WHERE activity_date = "
                    "(SELECT max(activity_date) FROM pwr_agg.member_voice_daily)"
                )
            before = table_state(url, *daily)
            with materialize_held_on_daily(settings, env) as (proc, run):
                terminate_in_ui(page, base, run.run_id, force=force)
                out, err = proc.communicate(timeout=120)
            time.sleep(2)  # the lock is free: a statement that had survived would commit now
            assert table_state(url, *daily) == before
            assert proc.returncode == 130, out + err
            assert "Traceback" not in out + err
            (line,) = [x for x in out.splitlines() if "pwr_agg/member_voice_daily:" in x]
            assert "terminated from the Dagster UI after" in line and f"(run {run.run_id} canceled;" in line
            assert not [x for x in out.splitlines() if x.startswith("[10/")], out  # no asset after it
            assert err.strip().splitlines()[-1] == (
                "Terminated from the Dagster UI: the runs that finished are kept;"
                " run `pwr materialize` again to build the rest."
            )
            with stack_instance(settings) as instance:
                assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
                said = [entry.message for entry in instance.all_logs(run.run_id)]
            # the launcher's answer, in the run's log (Force termination asks it first too)
            assert any("to the `pwr materialize` process that runs it" in m for m in said), said
            if force:  # Dagster's note when the process of a run marked canceled has stopped it
                assert any("were cleaned up after the run was forcibly marked" in m for m in said), said
    again = run_pwr(env, "materialize")
    assert again.returncode == 0, again.stdout + again.stderr
    assert table_state(url, *daily) == whole


def test_the_daemon_marks_failed_the_run_of_a_killed_pwr_materialize(
    stack: tuple[PwrSettings, dict[str, str]],
) -> None:
    """A `pwr materialize` killed (SIGKILL: the OOM killer, a container stopped) leaves Dagster no
    moment to record its run's end: the run stayed STARTED, shown as running and holding a slot of
    the run queue, until someone ran the command again on the same host (never, for a container
    of `docker compose run`). The daemon's run monitoring now asks the run launcher every minute
    and marks it failed on its own, with the reason in the run's log; PostgreSQL rolled back what
    the run had not committed."""
    settings, env = stack
    url = env["PWR_DATABASE_URL"]
    daily = ("pwr_agg.member_voice_daily", "activity_date, member_id")
    before = table_state(url, *daily)
    with materialize_held_on_daily(settings, env) as (proc, run):
        proc.kill()
        proc.communicate(timeout=60)
    deadline = time.monotonic() + 2 * RUN_MONITORING_SECONDS + 60
    while True:
        with stack_instance(settings) as instance:
            status = instance.get_run_by_id(run.run_id).status
            said = [entry.message for entry in instance.all_logs(run.run_id)]
        if status != DagsterRunStatus.STARTED:
            break
        assert time.monotonic() < deadline, "the killed command's run is still STARTED"
        time.sleep(2)
    assert status == DagsterRunStatus.FAILURE
    assert any(
        f"(pid {proc.pid}) ended without finishing it (killed)" in m
        and "Marked failed by the daemon's run monitoring." in m
        for m in said
    ), said
    time.sleep(2)  # the lock is free: a statement that had survived would commit now
    assert table_state(url, *daily) == before


def cancel_backfill_in_ui(page, base: str, backfill_id: str) -> None:
    """The backfill's page, its actions menu (the ⌄ button at the top right), *Cancel backfill*,
    and the dialog's own *Cancel backfill*, as an engineer does; the dialog closes once the
    backfill is marked canceling."""
    page.goto(f"{base}/runs/b/{backfill_id}", wait_until="networkidle")
    # the header's only icon button: its ⌄ icon (role img, labelled with the icon's name)
    page.locator("button:has([role=img][aria-label=expand_more])").first.click()
    page.get_by_role("menuitem", name="Cancel backfill").click()
    dialog = page.locator("[role=dialog]")
    dialog.get_by_text("In progress runs associated with this backfill will be canceled").wait_for()
    dialog.get_by_role("button", name="Cancel backfill").click()
    dialog.wait_for(state="detached")


def backfill_status(settings: PwrSettings, backfill_id: str, within_s: float, wanted: str) -> str:
    """The backfill's status (its name, e.g. "CANCELED") once it is ``wanted`` or ``within_s`` passed."""
    deadline = time.monotonic() + within_s
    while True:
        with stack_instance(settings) as instance:
            status = instance.get_backfill(backfill_id).status.value
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(1)


def test_cancel_backfill_in_the_ui_ends_its_run_and_leaves_the_table_whole(
    stack: tuple[PwrSettings, dict[str, str]],
) -> None:
    """*Cancel backfill* on a backfill's page: the daemon then asks the run launcher to terminate
    each run of the backfill, as Terminate does. A whole-history backfill of
    ``member_voice_daily``, caught inside its rebuild, must end CANCELED with its statement gone
    from PostgreSQL, the backfill must say Canceled, and readers must see the table as before."""
    settings, env = stack
    url = env["PWR_DATABASE_URL"]
    base = f"http://127.0.0.1:{env['PWR_DAGSTER_PORT']}"
    seen = set(ui_runs(settings))
    daily_before = table_state(url, "pwr_agg.member_voice_daily", "activity_date, member_id")
    assert daily_before[0] and daily_before[1], "the demo warehouse is empty"

    with browser_page("cancel-backfill") as page:
        with locked(url, "LOCK TABLE pwr_core.stale_aggregate_days IN EXCLUSIVE MODE") as locker:
            materialize_in_ui(page, base, "pwr_agg/member_voice_daily", all_partitions=True)
            (run,) = new_ui_runs(settings, seen)
            backfill_id = run.tags["dagster/backfill"]
            pid = waiting_backend(url, locker, "Delete the marks read before the run")
            assert holds_exclusive_lock(url, pid, "pwr_agg.member_voice_daily"), (
                "the run is not inside its whole-table rebuild"
            )
            cancel_backfill_in_ui(page, base, backfill_id)
            # the backfill daemon acts on its next pass (every 30 s)
            assert ended(settings, run.run_id, 120) == DagsterRunStatus.CANCELED
            assert pid not in [p for p, *_ in backends(url, locker.info.backend_pid)], (
                "the run was marked canceled, but its statement still waits in PostgreSQL"
            )
            assert table_state(url, "pwr_agg.member_voice_daily", "activity_date, member_id") == daily_before
        time.sleep(2)  # the lock is free: a statement that had survived would run now
        assert table_state(url, "pwr_agg.member_voice_daily", "activity_date, member_id") == daily_before
        assert backfill_status(settings, backfill_id, 120, "CANCELED") == "CANCELED"
        page.goto(f"{base}/runs/b/{backfill_id}", wait_until="networkidle")
        page.get_by_text("Canceled", exact=True).first.wait_for()
