"""Test fixtures: every warehouse test gets its own migrated database on a real PostgreSQL server.

The server is ``PWR_TEST_DATABASE_URL`` when set (CI also runs the suite against the machine's
PostgreSQL 15 that way), otherwise a dedicated embedded server under ``.pwr/test-pgdata`` on
``PWR_TEST_DB_PORT`` (default 54339), so tests never touch the data of a running ``make up``.
Migrations run once into a template database; each test clones it (``CREATE DATABASE … TEMPLATE``),
which takes milliseconds and isolates tests completely.

``make test`` runs the suite in two pytest-xdist workers (``-n 2 --dist loadgroup``). Each worker
is a session of its own: its own embedded server (port ``PWR_TEST_DB_PORT`` + worker index, data
under ``.pwr/test-pgdata-gwN``), its own template database, and the other fixed test ports shifted
by the same index. Tests that share something costly stay in one worker (see ``xdist_group_of``).
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pwr_platform.runtime.embedded_postgres import EmbeddedPostgres, port_taken
from pwr_platform.warehouse import migrate
from pwr_platform.warehouse.connection import with_database

# `pwr events import/complete` and `pwr ingest` record their writes in the Dagster instance they
# find (DAGSTER_HOME, else the one `pwr up` wrote under PWR_HOME): the suite's CLI calls record
# into a throwaway instance of its own, never into a developer's running stack.
os.environ["DAGSTER_HOME"] = str(Path(__import__("tempfile").mkdtemp(prefix="pwr-test-dagster-home-")))

REPO_ROOT = Path(__file__).resolve().parent.parent
WAREHOUSE_FIXTURES = {"pg_server_url", "template_db", "warehouse_url", "warehouse_conn", "empty_database_url"}
SUPERSET_FIXTURES = {"superset", "populated_warehouse"}
# Modules that change a cluster-wide role's password (the Superset reader role): on a shared
# server (PWR_TEST_DATABASE_URL) they must not run while the session Superset logs in as it.
SUPERSET_ROLE_MODULES = {"test_superset_reader.py"}

# pytest-xdist names its workers gw0, gw1, …; a run without workers is worker 0.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKER_INDEX = int(WORKER.removeprefix("gw") or 0)


def worker_port(variable: str, default: int) -> int:
    """A fixed test port (``variable`` or ``default``) shifted by the worker's index, so that
    parallel workers never race for one port."""
    return int(os.environ.get(variable, default)) + WORKER_INDEX


# Read at import time by test_docker_entrypoints.py (collected after this file).
os.environ["PWR_TEST_CODE_SERVER_PORT"] = str(worker_port("PWR_TEST_CODE_SERVER_PORT", 4015))


def _pwr_command(settings: dict[str, str], *args: str) -> dict:
    """How the tests start ``pwr``: configured only by ``settings`` (PWR_* variables of the test run
    itself are left out, so a developer's environment cannot leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWR_")}
    env.update(settings)
    return {
        "args": [os.path.join(os.path.dirname(sys.executable), "pwr"), *args],
        "cwd": REPO_ROOT,
        "env": env,
    }


def run_pwr(settings: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The ``pwr`` command as a user runs it, to its end."""
    return subprocess.run(**_pwr_command(settings, *args), capture_output=True, text=True, timeout=timeout)


def start_pwr(settings: dict[str, str], *args: str) -> subprocess.Popen:
    """The ``pwr`` command started as a user starts it, its output captured, left running."""
    return subprocess.Popen(
        **_pwr_command(settings, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """As root, the system user that owns every embedded server's data directory is created
    here, once and under the lock, before any worker's tests start servers of their own."""
    if os.geteuid() == 0 and not os.environ.get("PWR_TEST_DATABASE_URL"):
        with _server_start_lock():
            EmbeddedPostgres(REPO_ROOT / ".pwr" / "test-pgdata", 0, REPO_ROOT / ".pwr")._system_user()


@contextmanager
def _server_start_lock() -> Iterator[None]:
    lock_path = REPO_ROOT / ".pwr" / "test-pgdata.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def xdist_group_of(item: pytest.Item) -> str | None:
    """The pytest-xdist group a test must share with others, or None when it may run anywhere.

    Every test of the session Superset is in one group ("superset"): it starts once, in one
    worker (minutes of demo warehouse, Superset start and bundle import); tests that reset the
    password Superset logs in with join that group and run after its tests. A test that uses a
    module- or class-scoped fixture stays with its module, so that fixture is built once too.
    """
    names = set(getattr(item, "fixturenames", ()))
    if SUPERSET_FIXTURES & names or item.path.name in SUPERSET_ROLE_MODULES:
        return "superset"
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    defs = fixtureinfo.name2fixturedefs.values() if fixtureinfo else ()
    if any(d.scope in ("module", "class", "package") for fixturedefs in defs for d in fixturedefs):
        return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    own_group = {item.nodeid: item.get_closest_marker("xdist_group") is not None for item in items}
    for item in items:
        if WAREHOUSE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.warehouse)
        group = xdist_group_of(item)
        if group and not item.get_closest_marker("xdist_group"):  # a test's own group wins
            item.add_marker(pytest.mark.xdist_group(group))

    # The Superset group is the longest single unit of work: it goes first, so the other worker
    # spreads everything else around it instead of waiting for it at the end; within it, the
    # tests that reset Superset's role password come after every test that uses Superset. Tests
    # that name a group of their own (minutes each, see test_docker_entrypoints.py) come next.
    # (Stable sort: the rest keeps its collection order; --no-loadscope-reorder keeps this order.)
    def rank(item: pytest.Item) -> int:
        if xdist_group_of(item) == "superset":
            return 1 if item.path.name in SUPERSET_ROLE_MODULES else 0
        return 2 if own_group.get(item.nodeid) else 3

    items.sort(key=rank)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of the maintenance database (``postgres``) on the test server."""
    external = os.environ.get("PWR_TEST_DATABASE_URL")
    if external:
        yield with_database(external, "postgres")
        return
    suffix = f"-{WORKER}" if WORKER else ""

    def server_on(port: int) -> EmbeddedPostgres:
        return EmbeddedPostgres(
            pgdata=REPO_ROOT / ".pwr" / f"test-pgdata{suffix}",
            port=port,
            secrets_dir=REPO_ROOT / ".pwr" / f"test-secrets{suffix}",
        )

    server = server_on(worker_port("PWR_TEST_DB_PORT", 54339))
    # Workers start their servers one at a time: as root, the first start creates the system
    # user that owns the data directory, and two concurrent `useradd`s would collide.
    with _server_start_lock():
        already_running = server.is_initialized and server.running_port() is not None
        if not already_running and port_taken(server.port):
            # the fixed port lies in the range handed out to outgoing connections: one of the
            # machine's connections may hold it for a while; any free port will do
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                server = server_on(sock.getsockname()[1])
        server.start()
    yield server.url("postgres")
    if not already_running:
        server.stop()


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(server_url, autocommit=True)


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    with _admin(server_url) as conn:
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = sql.SQL("{} TEMPLATE {}").format(stmt, sql.Identifier(template))
        conn.execute(stmt)
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_db(pg_server_url: str) -> Iterator[str]:
    """Name of a freshly migrated template database, dropped at the end of the session."""
    name = f"pwr_test_tpl_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_server_url, name)
    migrate.upgrade(url)
    yield name
    drop_database(pg_server_url, name)


@pytest.fixture
def warehouse_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    """URL of a migrated warehouse database that belongs to this test alone."""
    name = f"pwr_test_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server_url, name, template=template_db)
    yield url
    drop_database(pg_server_url, name)


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """URL of an empty database (no schema), for migration tests."""
    name = f"pwr_test_empty_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server_url, name)
    yield url
    drop_database(pg_server_url, name)


@pytest.fixture
def warehouse_conn(warehouse_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        yield conn


# one Superset (and its demo warehouse) for every Superset test module of the session
from pwr_platform_tests.superset_support import populated_warehouse, superset  # noqa: E402, F401


@pytest.fixture
def platform_instance(pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A Dagster instance from the platform's generated ``dagster.yaml``, its storage on a scratch
    PostgreSQL database (dropped afterwards): what ``pwr up`` gives the webserver and daemon."""
    import yaml
    from dagster import DagsterInstance

    from pwr_platform.runtime.dagster_instance import STORAGE_URL_ENV, instance_config
    from pwr_platform.warehouse.connection import sqlalchemy_url

    name = "pwr_test_dagster_" + os.urandom(4).hex()
    create_database(pg_server_url, name)
    try:
        (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(instance_config()))
        monkeypatch.setenv(STORAGE_URL_ENV, sqlalchemy_url(with_database(pg_server_url, name), "psycopg2"))
        instance = DagsterInstance.from_config(str(tmp_path))
        try:
            yield instance
        finally:
            instance.dispose()
    finally:
        drop_database(pg_server_url, name)
