"""The read-only warehouse role Superset logs in as (created by migration 0005_superset_reader).

The migration creates the role without a password; the platform sets it here, from
``PWR_SUPERSET_DB_PASSWORD`` or a generated secret, using the warehouse's own (owner) connection.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

READER_ROLE = "pwr_reader"


def set_reader_password(admin_url: str, password: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,)).fetchone()
        if not exists:
            raise RuntimeError(
                f"role {READER_ROLE} does not exist: run `pwr db upgrade` (migration 0005_superset_reader) first"
            )
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                sql.Identifier(READER_ROLE), sql.Literal(password)
            )
        )


def reader_url(warehouse_url: str, password: str | None = None, driver: str = "psycopg2") -> str:
    """The warehouse URL as the reader role (``password=None`` leaves the password out)."""
    url = make_url(warehouse_url).set(
        drivername=f"postgresql+{driver}", username=READER_ROLE, password=password
    )
    return url.render_as_string(hide_password=False)
