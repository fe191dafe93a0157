"""Where the warehouse is: one rule, used by the CLI, Dagster, Superset set-up and tests.

``PWR_DATABASE_URL`` when set; otherwise the embedded server under ``PWR_HOME``. Dagster's own
storage lives in a ``dagster`` database on the same server unless ``PWR_DAGSTER_DATABASE_URL``
says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from pwr_platform.runtime.embedded_postgres import EmbeddedPostgres
from pwr_platform.settings import PwrSettings, get_settings, secret_value

WAREHOUSE_DB = "pwr"
DAGSTER_DB = "dagster"


def embedded_server(settings: PwrSettings | None = None) -> EmbeddedPostgres:
    settings = settings or get_settings()
    return EmbeddedPostgres(
        pgdata=settings.pgdata, port=settings.db_port, secrets_dir=settings.home / "secrets"
    )


def uses_embedded(settings: PwrSettings | None = None) -> bool:
    return (settings or get_settings()).database_url is None


def libpq_url(url: str) -> str:
    """Drop a SQLAlchemy driver suffix (``postgresql+psycopg://``) so libpq/psycopg accept the URL."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlalchemy_url(url: str, driver: str = "psycopg") -> str:
    return make_url(url).set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def warehouse_url(settings: PwrSettings | None = None, *, start: bool = False) -> str:
    """libpq URL of the warehouse database. ``start=True`` starts the embedded server if needed."""
    settings = settings or get_settings()
    if database_url := secret_value(settings.database_url):
        return libpq_url(database_url)
    server = embedded_server(settings)
    if start:
        server.start()
        ensure_database(server.url("postgres"), WAREHOUSE_DB)
    return server.url(WAREHOUSE_DB)


def dagster_storage_url(settings: PwrSettings | None = None, *, start: bool = False) -> str:
    """URL for Dagster's run, event-log and schedule storage (psycopg2 scheme, as dagster-postgres needs)."""
    settings = settings or get_settings()
    if dagster_database_url := secret_value(settings.dagster_database_url):
        return sqlalchemy_url(dagster_database_url, "psycopg2")
    url = with_database(warehouse_url(settings, start=start), DAGSTER_DB)
    if start:
        ensure_database(with_database(url, "postgres"), DAGSTER_DB)
    return sqlalchemy_url(url, "psycopg2")


def ensure_database(server_url: str, name: str) -> bool:
    """CREATE DATABASE ``name`` unless it exists. Returns True when it was created."""
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


@contextmanager
def connect(url: str | None = None, **kwargs) -> Iterator[psycopg.Connection]:
    """A psycopg connection to the warehouse (committed on success, rolled back on error)."""
    with psycopg.connect(url or warehouse_url(), **kwargs) as conn:
        yield conn
