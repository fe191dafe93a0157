"""``pwr materialize``: the whole graph in topological order, the data's partitions by default,
dynamic partitions by their registered keys, runs recorded in the Dagster instance."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
from dagster import (
    AssetKey,
    DagsterRunStatus,
    Definitions,
    DynamicPartitionsDefinition,
    RunsFilter,
    SkipReason,
    asset,
    instance_for_test,
)

from pwr_platform.cli.materialize import materialize_graph, resolve_window
from pwr_platform.defs import agg
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform_tests.agg_scenario import insert_scenario, rows


def agg_definitions(url: str) -> Definitions:
    """The aggregate layer alone: the scenario is written straight into pwr_core, so the core assets
    (which rebuild pwr_core from raw) are left out and stand as upstream keys."""
    from dagster import load_asset_checks_from_package_module, load_assets_from_package_module

    return Definitions(
        assets=load_assets_from_package_module(agg),
        asset_checks=load_asset_checks_from_package_module(agg),
        resources={"warehouse": WarehouseResource(database_url=url)},
    )


def test_default_range_builds_every_aggregate_over_the_data(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    defs = agg_definitions(warehouse_url)
    lines: list[str] = []
    window = resolve_window(warehouse_url, UTC, None, None)
    # facts with times: sessions 3 March … 10 March, events 9 March … 13 March (join dates are
    # not data: the monthly partitions start at the first month with facts)
    assert window == (
        datetime(2025, 3, 3, 22, tzinfo=UTC),
        datetime(2025, 3, 13, 19, tzinfo=UTC),
    )
    with instance_for_test() as instance:
        ok = materialize_graph(defs, instance, window, echo=lambda text, nl=True: lines.append(text))
        assert ok, lines
        runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
        # 10 aggregates, one run each: the partitioned ones cover their range in a single run
        assert len(runs) == 10
    output = "\n".join(lines)
    assert "pwr_agg/member_voice_daily: 11 partitions 2025-03-03 … 2025-03-13" in output
    assert "pwr_agg/member_engagement_weekly: 2 partitions 2025-03-03 … 2025-03-10" in output
    assert "pwr_agg/member_monthly_status: partition 2025-03-01" in output
    assert "FAILED" not in output
    assert output.count("2/2 checks passed") == 2  # daily and weekly (the heatmap has none)
    assert output.count("1/1 checks passed") == 1  # monthly
    # daily before weekly before member_trend (topological order)
    order = [line.split(":")[0].split("] ")[1] for line in lines if line.startswith("[")]
    assert order.index("pwr_agg/member_voice_daily") < order.index("pwr_agg/member_engagement_weekly")
    assert order.index("pwr_agg/member_engagement_weekly") < order.index("pwr_agg/member_trend")
    assert order.index("pwr_agg/event_success") < order.index("pwr_agg/event_type_success")
    assert rows(warehouse_conn, "SELECT count(*) FROM pwr_agg.member_voice_daily") == [(5,)]
    assert rows(warehouse_conn, "SELECT count(*) FROM pwr_agg.member_trend")[0][0] > 0
    assert rows(warehouse_conn, "SELECT count(*) FROM pwr_agg.event_type_success") == [(2,)]


def test_from_to_limits_the_partitions(warehouse_url: str, warehouse_conn) -> None:
    insert_scenario(warehouse_conn)
    defs = agg_definitions(warehouse_url)
    window = resolve_window(warehouse_url, UTC, date(2025, 3, 4), date(2025, 3, 5))
    lines: list[str] = []
    with instance_for_test() as instance:
        assert materialize_graph(defs, instance, window, echo=lambda text, nl=True: lines.append(text))
    assert "pwr_agg/member_voice_daily: 2 partitions 2025-03-04 … 2025-03-05" in "\n".join(lines)
    assert [
        r[0]
        for r in rows(
            warehouse_conn, "SELECT DISTINCT activity_date FROM pwr_agg.member_voice_daily ORDER BY 1"
        )
    ] == [
        date(2025, 3, 4),
        date(2025, 3, 5),
    ]


def test_dynamic_partitions_are_materialized_by_their_registered_keys(warehouse_url: str) -> None:
    """A stand-in for the core layer's per-event attendance: keys registered with the instance."""
    events = DynamicPartitionsDefinition(name="test_events")

    @asset(partitions_def=events)
    def per_event(context) -> None:
        with psycopg.connect(warehouse_url) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS seen (key text)")
            conn.execute("INSERT INTO seen VALUES (%s)", (context.partition_key,))

    @asset(deps=[per_event])
    def summary() -> None:
        with psycopg.connect(warehouse_url) as conn:
            conn.execute("CREATE TABLE summary AS SELECT count(*) AS n FROM seen")

    lines: list[str] = []
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("test_events", ["17", "42"])
        assert materialize_graph(
            Definitions(assets=[per_event, summary]), instance, None, echo=lambda t, nl=True: lines.append(t)
        )
    with psycopg.connect(warehouse_url) as conn:
        assert sorted(r[0] for r in conn.execute("SELECT key FROM seen")) == ["17", "42"]
        assert conn.execute("SELECT n FROM summary").fetchone()[0] == 2
    assert [line for line in lines if line.startswith("[")] == [
        "[1/2] per_event: partition 17 … ",
        "[1/2] per_event: partition 42 … ",
        "[2/2] summary: (not partitioned) … ",
    ]


def test_a_failing_run_stops_the_command(warehouse_url: str) -> None:
    @asset
    def broken() -> None:
        raise RuntimeError("boom")

    @asset(deps=[broken])
    def after() -> None: ...

    lines: list[str] = []
    with instance_for_test() as instance:
        assert not materialize_graph(
            Definitions(assets=[broken, after]), instance, None, echo=lambda t, nl=True: lines.append(t)
        )
    assert any("FAILED" in line for line in lines)
    assert not any(line.startswith("[2/2]") for line in lines)


def test_pwr_materialize_command_records_runs_in_the_platform_instance(
    warehouse_url: str, pg_server_url: str, warehouse_conn, tmp_path, monkeypatch
) -> None:
    """The CLI end to end on simulated raw data: PWR_* settings → dagster_env → Postgres-backed
    instance → every asset of the graph (core and aggregates) materialized, runs recorded there."""
    import os

    from click.testing import CliRunner
    from dagster import DagsterInstance

    from pwr_platform.cli import main
    from pwr_platform.settings import get_settings
    from pwr_platform_tests.conftest import create_database, drop_database
    from pwr_platform_tests.demo_warehouse import simulate

    simulate(warehouse_url, tmp_path / "sim", members=25, days=21, seed=5, end="2025-03-29")
    dagster_db = "pwr_test_dagster_" + os.urandom(4).hex()
    dagster_url = create_database(pg_server_url, dagster_db)
    for key in ("DAGSTER_HOME", "PWR_DAGSTER_STORAGE_URL"):  # set by the command; restored after
        monkeypatch.setenv(key, "")
    monkeypatch.setenv("PWR_HOME", str(tmp_path))
    monkeypatch.setenv("PWR_DATABASE_URL", warehouse_url)
    monkeypatch.setenv("PWR_DAGSTER_DATABASE_URL", dagster_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["materialize", "--from", "2025-03-01", "--to", "2025-03-31"])
        assert result.exit_code == 0, result.output
        # 5 core + 10 aggregates + 4 Dota tables (the weekly digest is left to its schedule)
        assert "[1/19]" in result.output and "Materialized 19 assets" in result.output
        assert (
            "Not materialized here (posts to Discord; run by its schedule): digest/weekly_digest"
            in result.output
        )
        assert "FAILED" not in result.output
        assert "observed pwr_raw/discord_voice_events: ok" in result.output
        # three observation runs (the voice stream; the five other raw tables together; the Dota
        # sources together), then one run per asset: partitioned ones (daily, weekly, monthly,
        # attendance) in a single run each
        with DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
            assert len(instance.get_runs()) == 22  # 3 + 19
            assert instance.fetch_observations(AssetKey(["pwr_raw", "manual_events"]), limit=1).records
            assert instance.fetch_observations(AssetKey(["pwr_raw", "discord_voice_events"]), limit=1).records
            for key in (["pwr_core", "voice_sessions"], ["pwr_agg", "member_trend"]):
                assert instance.get_latest_materialization_event(AssetKey(key)) is not None
    finally:
        get_settings.cache_clear()
        drop_database(pg_server_url, dagster_db)
    # the daily table holds exactly the completed sessions' seconds (split at midnight, UTC here)
    assert rows(
        warehouse_conn, "SELECT count(*) > 0, sum(total_voice_seconds) FROM pwr_agg.member_voice_daily"
    ) == rows(
        warehouse_conn,
        "SELECT count(*) > 0, sum(duration_seconds) FROM pwr_core.voice_sessions "
        "WHERE is_completed AND session_start_ts >= '2025-03-01' AND session_end_ts < '2025-04-01'",
    )


def test_pwr_materialize_rejects_a_reversed_range() -> None:
    from click.testing import CliRunner

    from pwr_platform.cli import main

    result = CliRunner().invoke(main, ["materialize", "--from", "2025-03-05", "--to", "2025-03-01"])
    assert result.exit_code != 0
    assert "--to is before --from" in result.output


def test_two_warehouses_against_one_dagster_storage_keep_materializing(
    warehouse_url: str, pg_server_url: str, template_db: str
) -> None:
    """Tried as a new user would: warehouse A registers attendance partitions for its 3 events;
    warehouse B, materialized against the same Dagster storage, has one event. `pwr materialize`
    and the sensors keep working on B; the partitions B lacks are skipped with a log line."""
    import uuid

    from dagster import load_asset_checks_from_package_module, load_assets_from_package_module

    from pwr_platform.defs import core, raw
    from pwr_platform.defs.sensors import core_refresh_sensor, event_attendance_sensor
    from pwr_platform_tests.conftest import create_database, drop_database
    from pwr_platform_tests.pipeline_driver import tick
    from pwr_platform_tests.test_events import observe
    from pwr_platform_tests.voice_data import Voice, at, insert_voice

    def core_definitions(url: str) -> Definitions:
        return Definitions(
            assets=[a for layer in (raw, core) for a in load_assets_from_package_module(layer)],
            asset_checks=[c for layer in (raw, core) for c in load_asset_checks_from_package_module(layer)],
            resources={"warehouse": WarehouseResource(database_url=url)},
        )

    name_b = f"pwr_test_b_{uuid.uuid4().hex[:10]}"
    url_b = create_database(pg_server_url, name_b, template=template_db)
    try:
        with psycopg.connect(warehouse_url, autocommit=True) as a:
            for n in (1, 2, 3):
                observe(a, 300 + n, at(0), "completed")
        with psycopg.connect(url_b, autocommit=True) as b:
            observe(b, 400, at(0), "completed")
            insert_voice(b, [Voice(7, "join", at(65), 10), Voice(7, "leave", at(95), 10)])
        lines: list[str] = []
        with instance_for_test() as instance:
            for url in (warehouse_url, url_b):
                window = resolve_window(url, UTC, None, None)
                ok = materialize_graph(
                    core_definitions(url), instance, window, echo=lambda t, nl=True: lines.append(t)
                )
                assert ok, lines
            assert instance.get_dynamic_partitions("events") == ["1", "2", "3"]
            # both sensors tick on B without an error: nothing new for the core refresh, and B's
            # one completed event for attendance
            skip = tick(core_refresh_sensor, instance, url_b)
            assert isinstance(skip, SkipReason) and "no new raw data" in skip.skip_message
            result = tick(event_attendance_sensor, instance, url_b)
            assert [r.partition_key for r in result.run_requests] == ["1"]
        with psycopg.connect(url_b) as b:
            assert b.execute(
                "SELECT event_id, total_voice_seconds FROM pwr_core.event_attendance"
            ).fetchall() == [(1, 30 * 60)]
    finally:
        drop_database(pg_server_url, name_b)
    assert not any("FAILED after" in line for line in lines)
    assert sum("pwr_core/event_attendance: 3 partitions 1 … 3" in line for line in lines) == 2
