"""The read-only warehouse role Superset logs in as (created by migration 0005_superset_reader).

The migration creates the role without a password; the platform sets it here, from
``PWR_SUPERSET_DB_PASSWORD`` or a generated secret, using the warehouse's own (owner) connection.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from pwr_platform.warehouse.role_passwords import READER_ROLE, set_role_password

__all__ = ["READER_ROLE", "reader_url", "set_reader_password"]


def set_reader_password(admin_url: str, password: str) -> None:
    set_role_password(admin_url, READER_ROLE, password)


def reader_url(warehouse_url: str, password: str | None = None, driver: str = "psycopg2") -> str:
    """The warehouse URL as the reader role (``password=None`` leaves the password out)."""
    url = make_url(warehouse_url).set(
        drivername=f"postgresql+{driver}", username=READER_ROLE, password=password
    )
    return url.render_as_string(hide_password=False)
