"""The one typed PostgreSQL resource every asset, check and sensor uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from dagster import ConfigurableResource
from pydantic import Field

from pwr_platform.warehouse.connection import warehouse_url


class WarehouseResource(ConfigurableResource):
    """The PwR warehouse on PostgreSQL.

    ``database_url`` empty means "resolve at run time" (PWR_DATABASE_URL or the embedded server),
    so the code location loads even while the database is down, and a test can point the same
    definitions at its own database.
    """

    database_url: str = Field(
        default="", description="libpq URL; empty = PWR_DATABASE_URL or embedded server"
    )

    def url(self) -> str:
        return self.database_url or warehouse_url()

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A connection whose work commits as one transaction when the block ends without error."""
        with psycopg.connect(self.url(), application_name="pwr-dagster") as conn:
            yield conn
