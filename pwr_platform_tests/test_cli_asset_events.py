"""CLI writes show in Dagster: `pwr events import` and `pwr events complete` record runless
materializations of the tables they wrote; an unreachable instance costs one warning line, never
the user's import."""

from __future__ import annotations

from click.testing import CliRunner
from dagster import AssetKey, DagsterInstance

from pwr_platform.cli import main

HEADER = (
    "external_event_id,name,event_type,description,scheduled_start_ts,scheduled_end_ts,"
    "actual_start_ts,actual_end_ts,host_discord_user_id,channel_ids,status\n"
)


def test_events_import_and_complete_are_recorded_as_asset_events(warehouse_url, tmp_path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    f = tmp_path / "events.csv"
    f.write_text(HEADER + "inh-9,Inhouse 9,inhouse,,2026-11-02T19:00:00Z,2026-11-02T21:00:00Z,,,,10,active\n")
    env = {"PWR_DATABASE_URL": warehouse_url, "DAGSTER_HOME": str(home)}
    imported = CliRunner().invoke(main, ["events", "import", str(f)], env=env, catch_exceptions=False)
    assert imported.exit_code == 0, imported.output
    completed = CliRunner().invoke(
        main, ["events", "complete", "inh-9", "--at", "2026-11-02T20:30:00Z"], env=env, catch_exceptions=False
    )
    assert completed.exit_code == 0, completed.output
    with DagsterInstance.from_config(str(home)) as instance:
        manual = instance.get_latest_materialization_event(AssetKey(["pwr_raw", "manual_events"]))
        assert manual.asset_materialization.metadata["new"].value == 1
        assert manual.asset_materialization.description == "pwr events import events.csv"
        stamp = instance.get_latest_materialization_event(AssetKey(["pwr_raw", "event_completions"]))
        assert stamp.asset_materialization.metadata["external_event_id"].value == "inh-9"
        events = instance.fetch_materializations(AssetKey(["pwr_core", "events"]), limit=10).records
        assert len(events) == 2  # both commands rebuilt pwr_core.events


def test_an_unreachable_instance_is_one_warning_and_the_import_still_succeeds(
    warehouse_url, warehouse_conn, tmp_path
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_url: postgresql+psycopg2://nobody@127.0.0.1:1/none\n"
    )
    f = tmp_path / "events.csv"
    f.write_text(HEADER + "mtg-9,Meeting,meeting,,2026-11-03T18:00:00Z,,,,,12,scheduled\n")
    result = CliRunner().invoke(
        main, ["events", "import", str(f)], env={"PWR_DATABASE_URL": warehouse_url, "DAGSTER_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "not recorded in Dagster" in warnings[0], result.output
    assert "Traceback" not in result.output
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_raw.manual_events").fetchone()[0] == 1
