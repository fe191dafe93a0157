"""Fault drill: the PostgreSQL that holds Superset's own metadata restarts under a running Superset.

In the compose deployment Superset keeps its metadata (users, dashboards, charts) in PostgreSQL,
and every gunicorn worker keeps a pool of connections to it. A PostgreSQL restart (an upgrade, a
crash and its recovery, the container restarted after a full disk) ends every one of them. A
plain SQLAlchemy pool hands the next request such a dead connection and the request fails
("server closed the connection unexpectedly": a plain SQLAlchemy 1.4 engine does so after
the same restart); Superset pings each
connection it takes from the pool and replaces a dead one (``pessimistic_connection_handling``),
so organizers see no error. This drill keeps it so across Superset upgrades and changes to
``superset_config.py``'s engine options. (The warehouse's connections are opened per query,
Superset's ``NullPool``: nothing of them outlives a restart.)

A real Superset (its own gunicorn, two workers of eight threads) with its metadata on a scratch
PostgreSQL 15 cluster, restarted for real with ``pg_ctl restart``; the requests are the REST
API's, which read the metadata on every call (the session's user, the dashboards).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pwr_platform.bi.superset_api import SupersetClient
from pwr_platform.runtime.superset_service import start_superset, stop_superset, superset_url
from pwr_platform.settings import PwrSettings
from pwr_platform_tests.scratch_cluster import ScratchCluster
from pwr_platform_tests.test_writer import free_port

REQUESTS = 16  # more than one per worker: each worker's pool holds its own dead connections


@pytest.fixture
def superset_on_a_server_metadata_db(
    warehouse_url: str, tmp_path
) -> Iterator[tuple[SupersetClient, ScratchCluster]]:
    cluster = ScratchCluster()
    settings = PwrSettings(
        home=tmp_path / "home",
        database_url=warehouse_url,
        superset_port=free_port(),
        superset_admin_user="pwr_test_admin",
        superset_admin_password=None,
        superset_db_password=None,
        superset_metadata_url=cluster.create_database("superset").replace(
            "postgresql://", "postgresql+psycopg2://", 1
        ),
    )
    try:
        secrets = start_superset(settings, warehouse_url, echo=lambda _msg: None)
        yield (
            SupersetClient(
                superset_url(settings), settings.superset_admin_user, secrets.admin_password.value
            ),
            cluster,
        )
    finally:
        stop_superset(settings, echo=lambda _msg: None)
        cluster.stop()


def statuses(client: SupersetClient) -> list[int]:
    """Status codes of REQUESTS reads of the metadata: the dashboard list, the logged-in user."""
    paths = ("/api/v1/dashboard/", "/api/v1/me/")
    return [
        client.session.get(f"{client.base_url}{paths[n % 2]}", timeout=60).status_code
        for n in range(REQUESTS)
    ]


def test_a_restart_of_supersets_metadata_postgres_fails_no_request(superset_on_a_server_metadata_db) -> None:
    client, cluster = superset_on_a_server_metadata_db
    assert statuses(client) == [200] * REQUESTS  # every worker's pool now holds connections

    cluster.restart()

    assert statuses(client) == [200] * REQUESTS
