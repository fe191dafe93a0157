"""The one typed PostgreSQL resource every asset, check and sensor uses.

Its connections are also how a run lets go of the warehouse when it is stopped: an interrupted
run cancels the statement it is waiting on (Ctrl-C or SIGTERM of ``pwr materialize``; *Terminate*
in the Dagster UI reaches a run worker as the same SIGINT), and the server notices a run worker
killed outright. Either way the run's transaction rolls back at once and its table locks are
released, rather than when the statement would have ended (a lock wait never ends). Fault drills:
``test_materialize_interrupted.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from dagster import ConfigurableResource
from pydantic import Field

from pwr_platform.warehouse.connection import warehouse_url

# How often the server checks, while one of our statements runs, that the run is still there
# (PostgreSQL 14+). A run worker killed with SIGKILL (or by the OOM killer) cannot cancel its
# statement; without the check its backend would hold the aggregate's locks until the statement
# ended, and in a lock wait for ever.
CLIENT_CHECK_INTERVAL = "5s"


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
        """A connection whose work commits as one transaction when the block ends without error.

        When the block ends by an exception or an interrupt while a statement is still running
        (Dagster raises its interrupt inside psycopg's wait), that statement is cancelled and the
        connection closed: a rollback cannot be sent while the server still works on it."""
        with psycopg.connect(self.url(), application_name="pwr-dagster", autocommit=True) as conn:
            if conn.info.server_version >= 140000:
                conn.execute(f"SET client_connection_check_interval = '{CLIENT_CHECK_INTERVAL}'")
            conn.autocommit = False
            try:
                yield conn
            except BaseException:
                if conn.info.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
                    conn.cancel_safe(timeout=10)
                    conn.close()
                raise
