"""What makes an OpenDota document usable, checked before it is stored.

A match document (``/matches/{id}``) must name its match, start, duration and result and list
its players with their slot and hero; anything less is quarantined with the first reason found
(naming the field), never half-loaded. The check is deliberately no stricter than that: a match
with nine players is stored, and the ``ten_players_per_match`` asset check says so, because the
document itself is what OpenDota served.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, ValidationError

ANONYMOUS_ACCOUNT = 4294967295  # OpenDota's account_id of a player who hides their profile


class PlayerDoc(BaseModel):
    model_config = ConfigDict(extra="allow")

    player_slot: StrictInt
    hero_id: StrictInt
    account_id: StrictInt | None = None


class MatchDoc(BaseModel):
    model_config = ConfigDict(extra="allow")

    match_id: StrictInt
    start_time: StrictInt
    duration: StrictInt
    radiant_win: StrictBool
    players: list[PlayerDoc]
    leagueid: StrictInt | None = None


class HeroDoc(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: StrictInt
    name: str
    localized_name: str


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return f"{where or 'document'}: {error['msg'].lower()}"


def match_problem(document: Any) -> str | None:
    """Why ``document`` is no usable match document (None when it is one)."""
    if not isinstance(document, dict):
        return f"not a match document: a JSON {type(document).__name__}, expected an object"
    try:
        match = MatchDoc.model_validate(document)
    except ValidationError as exc:
        return _first_problem(exc)
    if not match.players:
        return "players: empty list"
    return None


def heroes_problem(document: Any) -> str | None:
    """Why ``document`` is no usable ``/heroes`` list (None when it is one)."""
    if not isinstance(document, list) or not document:
        return "not a hero list: expected a non-empty JSON array"
    for index, hero in enumerate(document):
        try:
            HeroDoc.model_validate(hero)
        except ValidationError as exc:
            return f"[{index}].{_first_problem(exc)}"
    return None


def kind_of(document: Any) -> str:
    """``match``, ``heroes``, ``league`` or ``league_matches`` for a saved response, by its shape.

    Shapes as OpenDota serves them: ``/matches/{id}`` an object with ``players``;
    ``/leagues/{id}`` an object with ``leagueid`` and ``name``, no players; ``/heroes`` an array of
    objects with ``localized_name``; ``/leagues/{id}/matches`` an array of match summaries
    (``match_id``, no players); an array of full match documents is read as matches.
    """
    if isinstance(document, dict):
        if "leagueid" in document and "name" in document and "players" not in document:
            return "league"
        return "match"
    if isinstance(document, list) and document and isinstance(document[0], dict):
        if "localized_name" in document[0]:
            return "heroes"
        if "players" not in document[0] and "match_id" in document[0]:
            return "league_matches"
    return "match"
