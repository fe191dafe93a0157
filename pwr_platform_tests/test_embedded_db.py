"""`pwr db start/stop/status/url` on a real embedded server: a restart keeps the data."""

from __future__ import annotations

import os
import socket

import psycopg
import pytest

from pwr_platform_tests.conftest import run_pwr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pwr(env: dict[str, str], *args: str):
    return run_pwr(env, *args, timeout=180)


def test_db_start_stop_round_trip_keeps_data(tmp_path) -> None:
    env = {"PWR_HOME": str(tmp_path / "home"), "PWR_DB_PORT": str(_free_port())}
    try:
        started = _pwr(env, "db", "start")
        assert started.returncode == 0, started.stdout + started.stderr
        url = _pwr(env, "db", "url").stdout.strip()
        assert url.startswith("postgresql://postgres:") and "@127.0.0.1:" in url
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('survives a restart')")

        stopped = _pwr(env, "db", "stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        status = _pwr(env, "db", "status")
        assert status.returncode == 1 and "stopped" in status.stdout

        assert _pwr(env, "db", "start").returncode == 0
        assert _pwr(env, "db", "status").returncode == 0
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("survives a restart",)]
    finally:
        _pwr(env, "db", "stop")


def test_embedded_server_refuses_connections_without_password(tmp_path) -> None:
    port = _free_port()
    env = {"PWR_HOME": str(tmp_path / "home"), "PWR_DB_PORT": str(port)}
    try:
        assert _pwr(env, "db", "start").returncode == 0
        try:
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            assert "password" in str(exc)
        else:
            raise AssertionError("embedded server accepted a connection without a password")
    finally:
        _pwr(env, "db", "stop")


def test_restart_after_a_parent_directory_was_made_private(tmp_path) -> None:
    """A cluster that stopped fine starts again after a directory above it became private (as
    root the server runs as its own user, which must still reach the data directory)."""
    home = tmp_path / "private" / "home"
    env = {"PWR_HOME": str(home), "PWR_DB_PORT": str(_free_port())}
    try:
        assert _pwr(env, "db", "start").returncode == 0
        assert _pwr(env, "db", "stop").returncode == 0
        os.chmod(tmp_path / "private", 0o700)
        restarted = _pwr(env, "db", "start")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        with psycopg.connect(_pwr(env, "db", "url").stdout.strip()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        _pwr(env, "db", "stop")


@pytest.mark.parametrize("holder", ["a listening program", "an outgoing connection's local port"])
def test_port_taken_is_one_clear_line_not_a_traceback(tmp_path, holder: str) -> None:
    """Also when the port is only the local port of a connection (nothing answers on it, yet
    PostgreSQL cannot bind it: it used to end in "could not create any TCP/IP sockets")."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as client:
            taken = listener if holder == "a listening program" else client
            port = taken.getsockname()[1]  # the client's port: nothing listens on it
            env = {"PWR_HOME": str(tmp_path / "home"), "PWR_DB_PORT": str(port)}
            result = _pwr(env, "db", "start")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"127.0.0.1:{port} is taken by another program; set PWR_DB_PORT" in result.stderr


def test_unreachable_database_is_one_clear_line_not_a_traceback(tmp_path) -> None:
    env = {
        "PWR_HOME": str(tmp_path / "home"),
        "PWR_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{_free_port()}/pwr",
    }
    for command in (("db", "upgrade"), ("db", "current")):
        result = _pwr(env, *command)
        assert result.returncode == 1, command
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert result.stderr.startswith("Error: cannot reach PostgreSQL: connection failed"), result.stderr
