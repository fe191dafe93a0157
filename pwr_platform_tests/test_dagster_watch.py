"""The webserver and the daemon watch the code server every 10 s, not every second (issue 16).

Against a real ``dagster api grpc`` code server: Dagster's own watch thread, started the way the
webserver and daemon start it, is counted asking for the server id; the entry points the local
stack and the compose images run (``pwr-dagster-webserver`` / ``pwr-dagster-daemon``) are Dagster's
commands with every argument passed through.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster._grpc import server_watcher
from dagster._grpc.client import DagsterGrpcClient

from pwr_platform.runtime import dagster_watch
from pwr_platform.runtime.services import dagster_services
from pwr_platform.settings import PwrSettings
from pwr_platform_tests.test_writer import free_port

BIN = Path(sys.executable).parent


@pytest.fixture
def code_server(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "PWR_HOME": str(tmp_path / "home"), "PWR_GUILD_ID": "811111111111111111"}
    argv = [str(BIN / "dagster"), "api", "grpc", "-h", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        [*argv, "-m", "pwr_platform.definitions", "--location-name", "pwr_platform"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    deadline = time.monotonic() + 120
    while True:
        try:
            client.ping("up")
            break
        except Exception:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the code server did not answer within 120 s"
            time.sleep(0.5)
    try:
        yield client
    finally:
        server.terminate()
        server.wait(30)


def asks_in(client: DagsterGrpcClient, seconds: float) -> int:
    """Start Dagster's code-server watch thread as the workspace does and count its asks."""
    asks = []
    real = client.get_server_id

    def counted(*args, **kwargs):
        asks.append(time.monotonic())
        return real(*args, **kwargs)

    client.get_server_id = counted
    noop = lambda *_: None  # noqa: E731
    shutdown, thread = server_watcher.create_grpc_watch_thread(
        "pwr_platform",
        client,
        get_location_entry=noop,
        refresh_code_location=noop,
        on_disconnect=noop,
        on_reconnected=noop,
        on_updated=noop,
        on_error=noop,
    )
    thread.start()
    time.sleep(seconds)
    shutdown.set()
    thread.join(15)
    return len(asks)


def test_the_watch_asks_the_code_server_every_ten_seconds_not_every_second(
    code_server: DagsterGrpcClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_watcher, "WATCH_INTERVAL", server_watcher.WATCH_INTERVAL)
    default = asks_in(code_server, 4.5)  # Dagster's own interval: 1 s
    dagster_watch.slow_code_server_watch()
    slowed = asks_in(code_server, 4.5)
    print(f"\ncode-server id asks in 4.5 s: Dagster's default {default}, the platform's {slowed}")
    assert default >= 4, default
    assert slowed == 1, slowed  # the first ask at start, the next only after 10 s
    assert dagster_watch.CODE_SERVER_WATCH_INTERVAL_SECONDS == 10


def test_the_stack_runs_dagsters_commands_through_the_entry_points(tmp_path: Path) -> None:
    settings = PwrSettings(home=tmp_path / "home")
    argv = {service.name: service.argv for service in dagster_services(settings)}
    assert Path(argv["dagster-webserver"][0]).name == "pwr-dagster-webserver"
    assert Path(argv["dagster-daemon"][0]).name == "pwr-dagster-daemon"
    for command, words in (("pwr-dagster-webserver", "dagster-webserver"), ("pwr-dagster-daemon", "run")):
        shown = subprocess.run([str(BIN / command), "--help"], capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0, shown.stderr
        assert words in shown.stdout, shown.stdout  # Dagster's own help: the arguments are Dagster's
    docker = Path(__file__).resolve().parents[1] / "docker" / "bin"
    assert "exec pwr-dagster-webserver " in (docker / "dagster-webserver").read_text()
    assert "exec pwr-dagster-daemon run " in (docker / "dagster-daemon").read_text()
