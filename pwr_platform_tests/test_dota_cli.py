"""``pwr dota`` as a user runs it: good input stored, bad input one clear line (file, row or
field named) and exit status 1, never a traceback."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pwr_platform.ingest.dota.demo import DEMO_CUP_ID, DEMO_LEAGUE_ID, demo_league
from pwr_platform.ingest.simulator import Simulation, SimulationConfig
from pwr_platform_tests.conftest import run_pwr
from pwr_platform_tests.opendota_server import OpenDotaServer

LEAGUE = demo_league(
    Simulation(SimulationConfig(members=30, days=14, seed=9, end=datetime(2026, 11, 30, tzinfo=UTC)))
)


def pwr_dota(url: str, home: Path, *args: str, **settings: str):
    return run_pwr({"PWR_DATABASE_URL": url, "PWR_HOME": str(home), **settings}, "dota", *args)


def one_line_error(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_import_stores_matches_and_quarantines_a_bad_document(warehouse_url, warehouse_conn, tmp_path):
    docs = copy.deepcopy(LEAGUE.matches[:3])
    del docs[1]["players"][4]["player_slot"]
    path = tmp_path / "matches.json"
    path.write_text(json.dumps(docs))
    result = pwr_dota(warehouse_url, tmp_path, "import", str(path))
    assert result.returncode == 0, result.stderr
    assert "2 new matches stored, 0 already stored, 1 documents quarantined" in result.stdout
    assert f"[1]: match {docs[1]['match_id']}: players[4].player_slot: field required" in result.stderr
    reason = warehouse_conn.execute("SELECT reason FROM pwr_dota.quarantine").fetchone()[0]
    assert reason == f"match {docs[1]['match_id']}: players[4].player_slot: field required"
    again = pwr_dota(warehouse_url, tmp_path, "import", str(path))
    assert "0 new matches stored, 2 already stored" in again.stdout


def test_import_refuses_a_file_that_is_not_json_and_stores_nothing(warehouse_url, warehouse_conn, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(LEAGUE.matches[0]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"match_id": 1,\n "players": [oops]}')
    line = one_line_error(pwr_dota(warehouse_url, tmp_path, "import", str(good), str(bad)))
    assert line == f"{bad}: not JSON (line 2, column 14: Expecting value); nothing imported"
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_dota.raw_matches").fetchone()[0] == 0


def test_link_and_its_errors(warehouse_url, warehouse_conn, tmp_path):
    ok = pwr_dota(warehouse_url, tmp_path, "link", "123456", "811111111111111111")
    assert ok.returncode == 0 and "Account 123456 linked to Discord member 811111111111111111" in ok.stdout
    again = pwr_dota(warehouse_url, tmp_path, "link", "123456", "811111111111111111")
    assert "already linked" in again.stdout
    assert one_line_error(pwr_dota(warehouse_url, tmp_path, "link", "abc", "1")).startswith(
        "account_id: 'abc' is not an id"
    )
    assert one_line_error(pwr_dota(warehouse_url, tmp_path, "link", "5", "7x")).startswith(
        "discord_user_id: '7x' is not an id"
    )
    assert warehouse_conn.execute(
        "SELECT account_id, discord_user_id FROM pwr_dota.player_links"
    ).fetchall() == [(123456, 811111111111111111)]


def test_links_import_names_every_bad_row_and_field(warehouse_url, warehouse_conn, tmp_path):
    good = tmp_path / "links.csv"
    good.write_text("account_id,discord_user_id\n" + "".join(f"{a},{d}\n" for a, d in LEAGUE.links))
    result = pwr_dota(warehouse_url, tmp_path, "links", "import", str(good))
    assert result.returncode == 0 and f"Imported {len(LEAGUE.links)} links" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,discord_user_id\n1,2\nx,3\n4,\n1,5\n")
    line = one_line_error(pwr_dota(warehouse_url, tmp_path, "links", "import", str(bad)))
    assert line.startswith(f"{bad}: not imported, row 3, account_id: 'x' is not an id")
    assert "row 4, discord_user_id: missing" in line
    assert "row 5, account_id: 1 already linked on row 2" in line
    header = tmp_path / "header.csv"
    header.write_text("steam,discord\n1,2\n")
    assert "header: column account_id, discord_user_id missing" in one_line_error(
        pwr_dota(warehouse_url, tmp_path, "links", "import", str(header))
    )
    count = warehouse_conn.execute("SELECT count(*) FROM pwr_dota.player_links").fetchone()[0]
    assert count == len(LEAGUE.links)


def test_refresh_from_a_local_api_then_nothing_new(warehouse_url, warehouse_conn, tmp_path):
    with OpenDotaServer(
        LEAGUE.heroes, LEAGUE.leagues[0], LEAGUE.league_matches(DEMO_LEAGUE_ID), page_size=3
    ) as api:
        settings = {"PWR_OPENDOTA_URL": api.url, "PWR_DOTA_LEAGUE_IDS": str(DEMO_LEAGUE_ID),
                    "PWR_OPENDOTA_REQUESTS_PER_MINUTE": "6000"}  # fmt: skip
        first = pwr_dota(warehouse_url, tmp_path, "refresh", **settings)
        assert first.returncode == 0, first.stderr
        assert f"{len(LEAGUE.league_matches(DEMO_LEAGUE_ID))} new matches stored" in first.stdout
        fetched = api.count("/matches/")
        second = pwr_dota(warehouse_url, tmp_path, "refresh", **settings)
        assert "0 new matches stored" in second.stdout
        assert api.count("/matches/") == fetched == len(LEAGUE.league_matches(DEMO_LEAGUE_ID)) > 0


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "PWR_DOTA_LEAGUE_IDS is not set: name the league ids to fetch (comma separated)"),
        (
            {"PWR_DOTA_LEAGUE_IDS": "1", "PWR_OPENDOTA_URL": "http://127.0.0.1:9/api"},
            "OpenDota: GET http://127.0.0.1:9/api/heroes: cannot connect (after retries)",
        ),
    ],
    ids=["no_leagues", "unreachable"],
)
def test_refresh_errors_are_one_line(warehouse_url, tmp_path, settings, expected):
    assert one_line_error(pwr_dota(warehouse_url, tmp_path, "refresh", **settings)).startswith(expected)


def test_simulate_writes_and_loads_the_demo_league_deterministically(warehouse_url, warehouse_conn, tmp_path):
    args = ("simulate", "--members", "40", "--days", "14", "--seed", "2", "--end", "2026-11-01")
    result = run_pwr({"PWR_DATABASE_URL": warehouse_url, "PWR_HOME": str(tmp_path / "a")}, *args)
    assert result.returncode == 0, result.stderr
    expected = demo_league(
        Simulation(SimulationConfig(members=40, days=14, seed=2, end=datetime(2026, 11, 1, tzinfo=UTC)))
    )
    assert f"{len(expected.matches)} matches of the demo leagues" in result.stdout
    folder = tmp_path / "a" / "demo" / "dota"
    saved = [
        match
        for league in (DEMO_LEAGUE_ID, DEMO_CUP_ID)
        for match in json.loads((folder / f"league_{league}_matches.json").read_text())
    ]
    assert sorted(saved, key=lambda m: m["match_id"]) == expected.matches
    assert len(saved) == 8  # two weeks, two match nights a week (league and cup), two matches each
    names = {
        json.loads((folder / f"league_{league}.json").read_text())["name"]
        for league in (DEMO_LEAGUE_ID, DEMO_CUP_ID)
    }
    assert names == {"PwR Demo League (demo data)", "PwR Demo Cup (demo data)"}
    assert all(m["pwr_demo"] for m in saved)
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_dota.raw_matches").fetchone()[0] == len(saved)
    # the players are simulated members: every linked account belongs to a member the simulator wrote
    unlinked = warehouse_conn.execute(
        "SELECT count(*) FROM pwr_dota.player_links l WHERE NOT EXISTS "
        "(SELECT 1 FROM pwr_raw.discord_member_events e WHERE e.discord_user_id = l.discord_user_id)"
    ).fetchone()[0]
    assert unlinked == 0
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_dota.player_links").fetchone()[0] == 30
