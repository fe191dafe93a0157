"""The OpenDota client and ``refresh_leagues`` against a local API-shaped server (no network).

Shown here: a league's match list read page by page; a 429 whose ``Retry-After`` is waited out;
5xx answers retried; a read timeout retried and, when it persists, one clear error; the rate
limit spacing requests; a malformed match document quarantined with its reason; a second refresh
fetching no match already stored; and the response cache (a match is fetched once even for a
fresh warehouse).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import psycopg
import pytest

from pwr_platform.ingest.dota.client import OpenDotaClient, OpenDotaError
from pwr_platform.ingest.dota.demo import DEMO_LEAGUE_ID, demo_league
from pwr_platform.ingest.dota.refresh import refresh_leagues
from pwr_platform.ingest.simulator import Simulation, SimulationConfig
from pwr_platform_tests.opendota_server import Fault, OpenDotaServer

DEMO = demo_league(
    Simulation(SimulationConfig(members=40, days=42, seed=3, end=datetime(2026, 11, 30, tzinfo=UTC)))
)


class LEAGUE:  # the league the local API serves
    heroes = DEMO.heroes
    league = DEMO.leagues[0]
    matches = DEMO.league_matches(DEMO_LEAGUE_ID)


@pytest.fixture
def api():
    with OpenDotaServer(LEAGUE.heroes, LEAGUE.league, copy.deepcopy(LEAGUE.matches), page_size=5) as server:
        yield server


def client_for(server: OpenDotaServer, tmp_path, **kwargs) -> OpenDotaClient:
    options = {"requests_per_minute": 60_000, "backoff_factor": 0.01, "timeout": (2.0, 2.0), **kwargs}
    return OpenDotaClient(server.url, cache_dir=tmp_path / "cache", **options)


def test_the_league_match_list_is_read_page_by_page(api, tmp_path):
    assert len(LEAGUE.matches) == 12
    ids = client_for(api, tmp_path).league_match_ids(DEMO_LEAGUE_ID)
    assert ids == sorted((m["match_id"] for m in LEAGUE.matches), reverse=True)
    pages = [r.query.get("less_than_match_id") for r in api.requests]
    # 12 matches, 5 a page: three pages, then one empty answer ends the list
    assert len(pages) == 4 and pages[0] is None
    assert [int(p) for p in pages[1:]] == [ids[4], ids[9], ids[11]]


def test_a_429_waits_as_long_as_retry_after_says(api, tmp_path):
    match_id = LEAGUE.matches[0]["match_id"]
    api.fail(f"/matches/{match_id}", Fault(429, {"Retry-After": "2"}))
    fetched = client_for(api, tmp_path).match(match_id)
    assert fetched.document["match_id"] == match_id
    first, second = api.requests
    assert second.at - first.at >= 1.9  # the backoff alone would retry after ~0.01 s


def test_5xx_answers_are_retried_with_backoff(api, tmp_path):
    match_id = LEAGUE.matches[1]["match_id"]
    api.fail(f"/matches/{match_id}", Fault(500), Fault(502), Fault(503))
    fetched = client_for(api, tmp_path, backoff_factor=0.1).match(match_id)
    assert fetched.document["match_id"] == match_id
    times = [r.at for r in api.requests]
    assert len(times) == 4
    # exponential: urllib3 retries the first time at once, then waits backoff * 2**n = 0.2, 0.4 s.
    # Lower bounds only: a busy machine adds to a gap (comparing two gaps failed under load), never
    # takes from one; a constant or missing backoff fails the last one.
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert gaps[1] >= 0.19 and gaps[2] >= 0.39, gaps


def test_5xx_that_persists_is_one_clear_error(api, tmp_path):
    api.fail("/heroes", *[Fault(503)] * 10)
    with pytest.raises(
        OpenDotaError, match=r"^GET http://127\.0\.0\.1:\d+/api/heroes: HTTP 503 after retries$"
    ):
        client_for(api, tmp_path, retries=2).get("/heroes")
    assert api.count("/heroes") == 3


def test_a_timeout_is_retried_and_a_lasting_one_reported(api, tmp_path):
    match_id = LEAGUE.matches[2]["match_id"]
    api.fail(f"/matches/{match_id}", Fault(delay=1.5))
    client = client_for(api, tmp_path, timeout=(2.0, 0.5))
    assert client.match(match_id).document["match_id"] == match_id
    assert api.count(f"/matches/{match_id}") == 2

    api.fail("/heroes", *[Fault(delay=1.0)] * 3)
    with pytest.raises(OpenDotaError, match=r"/api/heroes: timed out \(after retries\)$"):
        client_for(api, tmp_path, timeout=(2.0, 0.3), retries=2).get("/heroes")


def test_the_rate_limit_spaces_requests(api, tmp_path):
    client = client_for(api, tmp_path, requests_per_minute=240)  # one each 0.25 s
    for _ in range(4):
        client.get("/heroes")
    times = [r.at for r in api.requests]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # measured where the requests arrive (a busy machine adds jitter to each arrival, not to the
    # spacing the client keeps): four requests span at least three intervals
    assert times[-1] - times[0] >= 0.74 and min(gaps) >= 0.1, gaps


def test_the_api_key_is_sent_and_never_stored(api, tmp_path, warehouse_url):
    client = client_for(api, tmp_path, api_key="s3cret")
    with psycopg.connect(warehouse_url) as conn:
        refresh_leagues(conn, client, [DEMO_LEAGUE_ID])
        sources = conn.execute(
            "SELECT source FROM pwr_dota.raw_matches UNION ALL SELECT source FROM pwr_dota.raw_references"
        ).fetchall()
    assert all(r.query.get("api_key") == "s3cret" for r in api.requests)
    assert sources and not any("s3cret" in s for (s,) in sources)


def test_refresh_quarantines_a_malformed_match_and_a_second_refresh_fetches_nothing(
    api, tmp_path, warehouse_url
):
    broken = LEAGUE.matches[5]["match_id"]
    del api.matches[broken]["radiant_win"]
    api.raw_bodies[str(LEAGUE.matches[6]["match_id"])] = "<html>Bad gateway</html>"
    client = client_for(api, tmp_path)
    with psycopg.connect(warehouse_url) as conn:
        first = refresh_leagues(conn, client, [DEMO_LEAGUE_ID])
        assert (first.stored, len(first.quarantined)) == (10, 2)
        reasons = dict(conn.execute("SELECT match_id, reason FROM pwr_dota.quarantine").fetchall())
        assert reasons[broken] == f"match {broken}: radiant_win: field required"
        assert reasons[LEAGUE.matches[6]["match_id"]] == f"match {LEAGUE.matches[6]['match_id']}: not JSON"
        assert conn.execute("SELECT count(*) FROM pwr_dota.raw_matches").fetchone()[0] == 10
        assert conn.execute("SELECT count(*) FROM pwr_dota.raw_references").fetchone()[0] == 2

        fetched_before = api.count("/matches/")
        second = refresh_leagues(conn, client, [DEMO_LEAGUE_ID])
        assert api.count("/matches/") == fetched_before == 12
        assert (second.stored, second.already_stored, len(second.quarantined)) == (0, 12, 0)


def test_a_match_is_fetched_once_even_for_a_fresh_warehouse(api, tmp_path, pg_server_url, template_db):
    from pwr_platform_tests.demo_warehouse import scratch_warehouse

    client = client_for(api, tmp_path)
    with (
        scratch_warehouse(pg_server_url, template_db, "dota_a") as first_url,
        psycopg.connect(first_url) as conn,
    ):
        assert refresh_leagues(conn, client, [DEMO_LEAGUE_ID]).stored == 12
    with (
        scratch_warehouse(pg_server_url, template_db, "dota_b") as second_url,
        psycopg.connect(second_url) as conn,
    ):
        assert refresh_leagues(conn, client_for(api, tmp_path), [DEMO_LEAGUE_ID]).stored == 12
    assert api.count("/matches/") == 12  # the second warehouse was filled from the cache
    assert len(list((tmp_path / "cache" / "matches").glob("*.json"))) == 12


def test_a_match_the_api_refuses_is_quarantined_and_the_refresh_goes_on(api, tmp_path, warehouse_url):
    missing = LEAGUE.matches[3]["match_id"]
    api.fail(f"/matches/{missing}", Fault(404))
    with psycopg.connect(warehouse_url) as conn:
        result = refresh_leagues(conn, client_for(api, tmp_path), [DEMO_LEAGUE_ID])
        assert (result.stored, len(result.quarantined)) == (len(LEAGUE.matches) - 1, 1)
        reason = conn.execute(
            "SELECT reason FROM pwr_dota.quarantine WHERE match_id = %s", (missing,)
        ).fetchone()
    assert reason[0].startswith(f"match {missing}: GET http://127.0.0.1:")
    assert reason[0].endswith(f"/api/matches/{missing}: HTTP 404")


def test_an_interrupted_refresh_keeps_what_it_fetched(api, tmp_path, warehouse_url):
    down_from = LEAGUE.matches[4]["match_id"]  # the list is fetched newest first
    order = sorted((m["match_id"] for m in LEAGUE.matches), reverse=True)
    api.fail(f"/matches/{down_from}", *[Fault(503)] * 10)
    with psycopg.connect(warehouse_url) as conn, pytest.raises(OpenDotaError, match="HTTP 503 after retries"):
        refresh_leagues(conn, client_for(api, tmp_path, retries=1), [DEMO_LEAGUE_ID])
    with psycopg.connect(warehouse_url) as conn:  # a new session sees what was committed
        stored = [r[0] for r in conn.execute("SELECT match_id FROM pwr_dota.raw_matches ORDER BY 1 DESC")]
    assert stored == order[: order.index(down_from)]
    assert stored  # some matches came before the one that failed
