"""Tell a server that is short of something from a server that cannot be reached.

Both drivers report PostgreSQL's "insufficient resources" errors (SQLSTATE class 53: a full disk,
no memory, too many connections) as an ``OperationalError``, the class of a refused connection. A
full disk then read "PostgreSQL is unreachable" and "cannot reach PostgreSQL", and an operator
looked for a stopped server while the server was up and its disk full (found by the drill
``test_warehouse_disk_full.py``). This module names the shortage and what to do about it;
:func:`shortage` imports no driver, so the CLI can ask it about any exception without loading one.
"""

from __future__ import annotations

INSUFFICIENT_RESOURCES = "53"
SHORTAGES = {
    "53100": "PostgreSQL's disk is full: free space on the disk that holds its data directory",
    "53200": "PostgreSQL is out of memory",
    "53300": "PostgreSQL has too many connections: close some, or raise its max_connections",
}


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a psycopg (``sqlstate``) or psycopg2 (``pgcode``) error, also when
    SQLAlchemy wraps it (``orig``); None for any other exception."""
    for candidate in (exc, getattr(exc, "orig", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def shortage(exc: BaseException) -> str | None:
    """What the server is short of, with what to do, when ``exc`` is an insufficient-resources
    error ("PostgreSQL's disk is full: free space on …"); None otherwise."""
    return _shortage_of_code(sqlstate(exc))


def shortage_named(cls_name: str) -> str | None:
    """:func:`shortage` for an error known only by its class name, as Dagster records a step's
    failure ("DiskFull"): psycopg names its error classes after their SQLSTATE, so the name says
    the code."""
    import psycopg.errors

    return _shortage_of_code(getattr(getattr(psycopg.errors, cls_name, None), "sqlstate", None))


def _shortage_of_code(code: object) -> str | None:
    if not isinstance(code, str) or not code.startswith(INSUFFICIENT_RESOURCES):
        return None
    return SHORTAGES.get(code, "PostgreSQL is short of resources")
