"""``pwr dota refresh``: fetch the configured leagues' matches that are not stored yet.

One pass: the hero list, each league's document and match list, then ``/matches/{id}`` for each
match id neither stored nor quarantined. A match the API refuses (404, 4xx) is quarantined with
the answer and the refresh goes on; an API that is down (timeouts, 5xx after the retries) stops
it. Each match is committed as it lands, so an interrupted
refresh keeps what it fetched and the next one carries on where it stopped; a second refresh
right after the first fetches no match at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg

from pwr_platform.ingest.dota.client import RETRY_STATUSES, OpenDotaClient, OpenDotaError
from pwr_platform.ingest.dota.store import (
    LandingResult,
    known_match_ids,
    land_match,
    land_reference,
    quarantine,
)


def refresh_leagues(
    conn: psycopg.Connection,
    client: OpenDotaClient,
    league_ids: Sequence[int],
    log: Callable[[str], None] = lambda _: None,
) -> LandingResult:
    """Land every new match of ``league_ids``; raises OpenDotaError when the API keeps failing."""
    result = LandingResult()
    heroes = client.get("/heroes")
    land_reference(conn, "heroes", 0, heroes.document, heroes.url, result)
    _commit(conn)
    for league_id in league_ids:
        try:
            league = client.get(f"/leagues/{league_id}")
            if isinstance(league.document, dict) and league.document.get("name"):
                land_reference(conn, "league", league_id, league.document, league.url, result)
                _commit(conn)
        except OpenDotaError as exc:
            log(f"league {league_id}: no league document ({exc}); its id stands for its name")
        match_ids = client.league_match_ids(league_id)
        known = known_match_ids(conn, match_ids)
        new = [m for m in match_ids if m not in known]
        log(f"league {league_id}: {len(match_ids)} matches listed, {len(new)} not stored yet")
        result.already_stored += len(match_ids) - len(new)
        for match_id in new:
            try:
                fetched = client.match(match_id)
            except OpenDotaError as exc:
                if exc.status is None or exc.status in RETRY_STATUSES:
                    raise  # the API is down or overloaded: stop, the next refresh carries on
                # the API answers, but not with this match (404 …): set it aside, go on with the rest
                quarantine(conn, "", str(exc).split(": ")[0], f"match {match_id}: {exc}", match_id, result)
                _commit(conn)
                continue
            if fetched.document is None:
                quarantine(conn, fetched.text, fetched.url, f"match {match_id}: not JSON", match_id, result)
            else:
                land_match(conn, fetched.document, fetched.url, result, expected_match_id=match_id)
            _commit(conn)
    return result


def _commit(conn: psycopg.Connection) -> None:
    """Keep what landed so far, whatever happens to the rest of the refresh (a no-op in autocommit)."""
    if not conn.autocommit:
        conn.commit()
