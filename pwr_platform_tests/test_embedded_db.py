"""`pwr db start/stop/status/url` on a real embedded server: a restart keeps the data."""

from __future__ import annotations

import socket

import psycopg

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
