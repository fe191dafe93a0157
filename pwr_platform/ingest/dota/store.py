"""Landing OpenDota documents in ``pwr_dota``: raw documents kept whole, the unusable quarantined.

Every write is an idempotent insert keyed by the source's own id (match id; hero list; league
id), so importing a file twice or refreshing again stores nothing twice. Reference documents
(``/heroes``, ``/leagues/{id}``) keep their newest copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from pwr_platform.ingest.dota.documents import heroes_problem, match_problem


@dataclass
class LandingResult:
    """What one import or refresh did, as figures and the reasons of what it set aside."""

    stored: int = 0
    already_stored: int = 0
    quarantined: list[str] = field(default_factory=list)
    references: int = 0

    def as_metadata(self) -> dict[str, int]:
        return {
            "matches_stored": self.stored,
            "matches_already_stored": self.already_stored,
            "documents_quarantined": len(self.quarantined),
            "reference_documents": self.references,
        }


def known_match_ids(conn: psycopg.Connection, match_ids: list[int]) -> set[int]:
    """Which of ``match_ids`` are stored already (as a raw document or in quarantine)."""
    rows = conn.execute(
        "SELECT match_id FROM pwr_dota.raw_matches WHERE match_id = ANY(%(ids)s) "
        "UNION SELECT match_id FROM pwr_dota.quarantine WHERE match_id = ANY(%(ids)s)",
        {"ids": match_ids},
    )
    return {row[0] for row in rows}


def quarantine(
    conn: psycopg.Connection, text: str, source: str, reason: str, match_id: int | None, result: LandingResult
) -> None:
    conn.execute(
        "INSERT INTO pwr_dota.quarantine (match_id, source, reason, document) VALUES (%s, %s, %s, %s)",
        (match_id, source, reason, text),
    )
    result.quarantined.append(f"{source}: {reason}")


def land_match(
    conn: psycopg.Connection,
    document: Any,
    source: str,
    result: LandingResult,
    *,
    expected_match_id: int | None = None,
) -> None:
    """Store one match document whole, or quarantine it with the reason it cannot be used."""
    problem = match_problem(document)
    match_id = document.get("match_id") if isinstance(document, dict) else None
    match_id = match_id if isinstance(match_id, int) and not isinstance(match_id, bool) else expected_match_id
    if problem is None and expected_match_id is not None and match_id != expected_match_id:
        problem = f"match_id: {match_id} where match {expected_match_id} was asked for"
    if problem is not None:
        where = f"match {match_id}: " if match_id is not None else ""
        quarantine(conn, json.dumps(document), source, where + problem, match_id, result)
        return
    inserted = conn.execute(
        "INSERT INTO pwr_dota.raw_matches (match_id, league_id, document, source) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (match_id) DO NOTHING",
        (match_id, document.get("leagueid"), Jsonb(document), source),
    ).rowcount
    if inserted:
        result.stored += 1
    else:
        result.already_stored += 1


def land_reference(
    conn: psycopg.Connection, kind: str, ref_id: int, document: Any, source: str, result: LandingResult
) -> None:
    """Keep the newest ``/heroes`` list or ``/leagues/{id}`` document (a bad hero list is quarantined)."""
    if kind == "heroes" and (problem := heroes_problem(document)):
        quarantine(conn, json.dumps(document), source, f"heroes {problem}", None, result)
        return
    conn.execute(
        """
        INSERT INTO pwr_dota.raw_references (kind, ref_id, document, source) VALUES (%s, %s, %s, %s)
        ON CONFLICT (kind, ref_id) DO UPDATE
        SET document = excluded.document, source = excluded.source, fetched_at = now()
        """,
        (kind, ref_id, Jsonb(document), source),
    )
    result.references += 1


def link_player(conn: psycopg.Connection, account_id: int, discord_user_id: int, source: str) -> bool:
    """Link a Steam account id to a Discord member; True when the link is new or changed."""
    return bool(
        conn.execute(
            """
            INSERT INTO pwr_dota.player_links (account_id, discord_user_id, source) VALUES (%s, %s, %s)
            ON CONFLICT (account_id) DO UPDATE
            SET discord_user_id = excluded.discord_user_id, source = excluded.source, linked_at = now()
            WHERE player_links.discord_user_id IS DISTINCT FROM excluded.discord_user_id
            """,
            (account_id, discord_user_id, source),
        ).rowcount
    )
