"""The Dota assets through Dagster on a real PostgreSQL: the demo league imported as a user does
(``pwr dota import``), heroes / leagues / matches / match_players materialized, numbers equal to
the documents, incremental runs parsing only new matches, and each asset check shown failing on
broken data and passing on good."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from pwr_platform.definitions import build_definitions
from pwr_platform.defs.dota import checks, tables
from pwr_platform.defs.keys import (
    DOTA_HEROES,
    DOTA_LEAGUES,
    DOTA_MATCH_PLAYERS,
    DOTA_MATCHES,
    DOTA_RAW_MATCHES,
)
from pwr_platform.defs.policy import layer_policy
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.ingest.dota.demo import (
    DEMO_CUP_ID,
    DEMO_CUP_NAME,
    DEMO_LEAGUE_ID,
    DEMO_LEAGUE_NAME,
    demo_league,
)
from pwr_platform.ingest.simulator import Simulation, SimulationConfig
from pwr_platform_tests.conftest import run_pwr

LEAGUE = demo_league(
    Simulation(SimulationConfig(members=40, days=28, seed=5, end=datetime(2026, 11, 30, tzinfo=UTC)))
)
ASSETS = [
    a.map_asset_specs(layer_policy)
    for a in (tables.heroes, tables.leagues, tables.matches, tables.match_players)
]
CHECKS = [checks.ten_players_per_match, checks.exactly_one_winning_side, checks.no_orphan_players]


def pwr_dota(url: str, home: Path, *args: str):
    return run_pwr({"PWR_DATABASE_URL": url, "PWR_HOME": str(home)}, "dota", *args)


def run_graph(url: str) -> dict:
    """The four Dota assets and their checks through Dagster; {name: passed} of the checks."""
    result = materialize(
        [*ASSETS, *CHECKS], resources={"warehouse": WarehouseResource(database_url=url)}, raise_on_error=True
    )
    assert result.success
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def run_checks(url: str) -> dict:
    result = materialize(
        [*ASSETS, *CHECKS],
        selection=AssetSelection.checks(*CHECKS),
        resources={"warehouse": WarehouseResource(database_url=url)},
    )
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


@pytest.fixture
def imported(warehouse_url: str, tmp_path: Path) -> str:
    files = LEAGUE.write(tmp_path / "league")
    result = pwr_dota(warehouse_url, tmp_path, "import", *map(str, files))
    assert result.returncode == 0, result.stderr
    assert f"Imported 5 files: {len(LEAGUE.matches)} new matches stored" in result.stdout
    return warehouse_url


def test_the_demo_league_is_materialized_and_equals_its_documents(imported, warehouse_conn):
    assert run_graph(imported) == dict.fromkeys(
        ["ten_players_per_match", "exactly_one_winning_side", "no_orphan_players"], True
    )
    q = lambda sql: warehouse_conn.execute(sql).fetchall()  # noqa: E731
    assert q("SELECT league_id, name FROM pwr_dota.leagues ORDER BY 1") == [
        (DEMO_LEAGUE_ID, DEMO_LEAGUE_NAME),
        (DEMO_CUP_ID, DEMO_CUP_NAME),
    ]
    assert q("SELECT count(*) FROM pwr_dota.heroes") == [(len(LEAGUE.heroes),)]
    assert q(
        "SELECT count(*), sum(duration_seconds), count(*) FILTER (WHERE radiant_win) FROM pwr_dota.matches"
    ) == [
        (
            len(LEAGUE.matches),
            sum(m["duration"] for m in LEAGUE.matches),
            sum(m["radiant_win"] for m in LEAGUE.matches),
        )
    ]
    players = [p for m in LEAGUE.matches for p in m["players"]]
    assert q(
        "SELECT count(*), sum(kills), sum(gold_per_min), count(*) FILTER (WHERE is_win) FROM pwr_dota.match_players"
    ) == [
        (
            len(players),
            sum(p["kills"] for p in players),
            sum(p["gold_per_min"] for p in players),
            sum(p["win"] for p in players),
        )
    ]
    first = LEAGUE.matches[0]
    assert q(f"SELECT start_ts, radiant_team FROM pwr_dota.matches WHERE match_id = {first['match_id']}") == [
        (datetime.fromtimestamp(first["start_time"], UTC), first["radiant_team"]["name"])
    ]


def test_a_second_run_parses_only_new_matches(warehouse_url, warehouse_conn, tmp_path):
    old, new = LEAGUE.matches[:10], LEAGUE.matches[10:]
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    assert pwr_dota(warehouse_url, tmp_path, "import", str(tmp_path / "old.json")).returncode == 0
    run_graph(warehouse_url)
    # a row already parsed is not parsed again: a hand edit survives the next run
    warehouse_conn.execute(
        f"UPDATE pwr_dota.match_players SET kills = 999 WHERE match_id = {old[0]['match_id']}"
    )
    assert pwr_dota(warehouse_url, tmp_path, "import", str(tmp_path / "new.json")).returncode == 0
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            ASSETS, resources={"warehouse": WarehouseResource(database_url=warehouse_url)}, instance=instance
        )
        new_rows = {
            e.asset_key.path[-1]: e.step_materialization_data.materialization.metadata["new_rows"].value
            for e in result.get_asset_materialization_events()
        }
    assert new_rows["matches"] == len(new) and new_rows["match_players"] == 10 * len(new)
    counts = warehouse_conn.execute(
        "SELECT (SELECT count(*) FROM pwr_dota.matches), (SELECT count(*) FROM pwr_dota.match_players), "
        "(SELECT count(*) FROM pwr_dota.match_players WHERE kills = 999)"
    ).fetchone()
    assert counts == (len(LEAGUE.matches), 10 * len(LEAGUE.matches), 10)


@pytest.mark.parametrize(
    ("breakage", "failing"),
    [
        (
            "DELETE FROM pwr_dota.match_players WHERE (match_id, player_slot) IN "
            "(SELECT match_id, 132 FROM pwr_dota.matches ORDER BY match_id LIMIT 1)",
            "ten_players_per_match",
        ),
        (
            "UPDATE pwr_dota.match_players SET is_win = NOT is_win WHERE (match_id, player_slot) IN "
            "(SELECT match_id, 0 FROM pwr_dota.matches ORDER BY match_id LIMIT 1)",
            "exactly_one_winning_side",
        ),
        (
            "UPDATE pwr_dota.matches SET winning_side = CASE winning_side WHEN 'radiant' THEN 'dire' ELSE 'radiant' END "
            "WHERE match_id = (SELECT min(match_id) FROM pwr_dota.matches)",
            "exactly_one_winning_side",
        ),
        (
            "INSERT INTO pwr_dota.match_players (match_id, player_slot, side) VALUES (1, 0, 'radiant')",
            "no_orphan_players",
        ),
    ],
    ids=["nine_players", "a_player_on_the_wrong_side_of_the_result", "match_winner_disagrees", "orphan"],
)
def test_each_check_fails_on_broken_data_and_passes_on_good(imported, warehouse_conn, breakage, failing):
    run_graph(imported)
    assert all(run_checks(imported).values())
    warehouse_conn.execute(breakage)
    results = run_checks(imported)
    assert [name for name, passed in results.items() if not passed] == [failing]


def test_the_dota_group_is_in_the_code_location():
    graph = build_definitions().resolve_asset_graph()
    for key in (DOTA_HEROES, DOTA_LEAGUES, DOTA_MATCHES, DOTA_MATCH_PLAYERS):
        node = graph.get(key)
        assert node.group_name == "dota" and node.automation_condition is not None, key


def test_an_import_recorded_in_dagster_makes_the_automation_parse_it(tmp_path, monkeypatch):
    """What `dota_automation` evaluates: nothing to do until a command records new documents, then
    the four tables at once (the command's ``record_writes`` is the trigger, as on a running stack)."""
    import dagster as dg

    from pwr_platform.cli.asset_events import record_writes

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    defs = build_definitions()
    tables = dg.AssetSelection.assets(DOTA_HEROES, DOTA_LEAGUES, DOTA_MATCHES, DOTA_MATCH_PLAYERS)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=tables)
        assert quiet.total_requested == 0
    assert record_writes(["pwr_dota.raw_matches", "pwr_dota.raw_references"], "pwr dota import", {})
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        woken = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, asset_selection=tables, cursor=quiet.cursor
        )
        requested = {
            k
            for k in (DOTA_HEROES, DOTA_LEAGUES, DOTA_MATCHES, DOTA_MATCH_PLAYERS)
            if woken.get_num_requested(k)
        }
    assert requested == {DOTA_HEROES, DOTA_LEAGUES, DOTA_MATCHES, DOTA_MATCH_PLAYERS}


@pytest.fixture
def dota_settings(monkeypatch, tmp_path):
    """PWR_* settings for one test (the settings object is cached: cleared before and after)."""
    from pwr_platform.settings import get_settings

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    monkeypatch.setenv("PWR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PWR_DOTA_LEAGUE_IDS", raising=False)
    get_settings.cache_clear()
    yield apply
    get_settings.cache_clear()


def test_the_schedule_skips_without_leagues_and_the_job_fetches_only_new_matches(
    warehouse_url, warehouse_conn, dota_settings
):
    import dagster as dg

    from pwr_platform.defs.dota.refresh import dota_refresh_schedule
    from pwr_platform_tests.opendota_server import OpenDotaServer

    skipped = dota_refresh_schedule(dg.build_schedule_context())
    assert isinstance(skipped, dg.SkipReason) and "PWR_DOTA_LEAGUE_IDS is not set" in skipped.skip_message

    league = LEAGUE.league_matches(DEMO_LEAGUE_ID)
    with OpenDotaServer(LEAGUE.heroes, LEAGUE.leagues[0], league, page_size=4) as api:
        dota_settings(
            PWR_OPENDOTA_URL=api.url,
            PWR_DOTA_LEAGUE_IDS=str(DEMO_LEAGUE_ID),
            PWR_OPENDOTA_REQUESTS_PER_MINUTE="6000",
        )
        assert isinstance(dota_refresh_schedule(dg.build_schedule_context()), dg.RunRequest)
        job = build_definitions(WarehouseResource(database_url=warehouse_url)).resolve_job_def(
            "dota_refresh_job"
        )
        stored = []
        with DagsterInstance.ephemeral() as instance:
            for _ in range(2):
                result = job.execute_in_process(instance=instance)
                assert result.success
                event = next(
                    e for e in result.get_asset_materialization_events() if e.asset_key == DOTA_RAW_MATCHES
                )
                stored.append(
                    event.step_materialization_data.materialization.metadata["matches_stored"].value
                )
        assert stored == [len(league), 0]
        assert api.count("/matches/") == len(league)  # the second run fetched no match
    count = warehouse_conn.execute("SELECT count(*) FROM pwr_dota.raw_matches").fetchone()[0]
    assert count == len(league)
