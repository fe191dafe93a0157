"""``pwr dota import FILE…``: saved OpenDota responses, read as the API serves them.

For communities without network access, for the demo and for tests. Each file holds one
response: a match (``/matches/{id}``), an array of match documents, the hero list (``/heroes``)
or a league (``/leagues/{id}``); the shape says which (``documents.kind_of``). A file that is
not JSON at all is refused with its name and the parser's line and column; a JSON document that
is not a usable match is quarantined with the reason, like a bad API response.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from pwr_platform.ingest.dota.documents import kind_of
from pwr_platform.ingest.dota.store import LandingResult, land_match, land_reference

MAX_FILE_BYTES = 64 << 20  # a league of a few thousand match documents; far larger is a wrong file


class DotaFileError(ValueError):
    """The file cannot be read as an OpenDota response; the message names the file and why."""


def read_response(path: Path) -> object:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DotaFileError(f"{path}: {size} bytes, larger than {MAX_FILE_BYTES} (not an API response?)")
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DotaFileError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise DotaFileError(f"{path}: not UTF-8 text (not an API response)") from None
    except OSError as exc:
        raise DotaFileError(f"{path}: {exc.strerror}") from None


def import_file(conn: psycopg.Connection, path: Path, result: LandingResult) -> str:
    """Land the response in ``path``; returns what it was (``match``, ``heroes`` …)."""
    document = read_response(path)
    source = f"file:{path.resolve()}"
    kind = kind_of(document)
    if kind == "heroes":
        land_reference(conn, "heroes", 0, document, source, result)
    elif kind == "league":
        league_id = document.get("leagueid")
        if not isinstance(league_id, int):
            raise DotaFileError(f"{path}: league document: leagueid is not a number")
        land_reference(conn, "league", league_id, document, source, result)
    elif kind == "league_matches":
        raise DotaFileError(
            f"{path}: a league's match list (ids only); import the match documents (/matches/{{id}}) instead"
        )
    elif isinstance(document, list):
        for index, item in enumerate(document):
            land_match(conn, item, f"{source}[{index}]", result)
    else:
        land_match(conn, document, source, result)
    return kind
