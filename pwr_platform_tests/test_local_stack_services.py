"""Fault drills for the local stack (issue 13, promise 11): `pwr down` / `pwr up` never signal a stranger.

Every drill uses real processes and the real `pwr` command: a `sleep 300` started here stands
for "some other program that got the pid after a reboot or a crash"; a process run as another
user (setpriv) stands for a service the stopping account may not signal; the status drill runs
the real Dagster webserver and daemon on a real PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from pwr_platform.runtime.pid_files import process_identity, write_pid_file
from pwr_platform.runtime.services import (
    Service,
    ServiceStartError,
    pid_file,
    running_process,
    start_dagster,
    start_service,
    stop_service,
)
from pwr_platform.runtime.stack_status import daemon_heartbeats
from pwr_platform.settings import PwrSettings
from pwr_platform_tests.conftest import run_pwr

NOBODY = 65534


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    identity = process_identity(pid)
    return identity is not None


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen]:
    """An unrelated live process (not started by pwr) whose pid a stale pid file will name."""
    proc = subprocess.Popen(["sleep", "3600"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def _pwr_env(home: Path, warehouse_url: str, **extra: str) -> dict[str, str]:
    # an external warehouse: `pwr down` has no embedded PostgreSQL of its own to stop here
    return {"PWR_HOME": str(home), "PWR_DATABASE_URL": warehouse_url, **extra}


def _stale_records(stranger_pid: int) -> dict[str, str]:
    """Three ways a pid file goes stale, each naming the live stranger's pid."""
    live = process_identity(stranger_pid)
    assert live is not None
    from_previous_boot = {**asdict(live), "boot_id": "00000000-0000-4000-8000-000000000000"}
    reused = {**asdict(live), "start_ticks": live.start_ticks - 100, "cmdline": ["/usr/bin/gunicorn"]}
    return {
        "superset": f"{stranger_pid}\n",  # the bare-pid format pwr wrote before pid identities
        "dagster-webserver": json.dumps(from_previous_boot),
        "dagster-daemon": json.dumps(reused),
    }


def test_down_never_signals_a_live_stranger_named_by_a_stale_pid_file(
    tmp_path: Path, stranger: subprocess.Popen, pg_server_url: str
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name, text in _stale_records(stranger.pid).items():
        (run_dir / f"{name}.pid").write_text(text)

    result = run_pwr(_pwr_env(tmp_path, pg_server_url), "down", timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    time.sleep(0.5)  # a signal, had one been sent, is delivered by now
    assert stranger.poll() is None, "pwr down killed a process that is not one of its services"
    assert list(run_dir.iterdir()) == [], "stale pid files must be removed"
    out = result.stdout
    assert "superset: removed stale pid file" in out and "holds no process identity" in out
    assert "dagster-webserver: removed stale pid file" in out and "before the last reboot" in out
    assert "dagster-daemon: removed stale pid file" in out and "now belongs to another process" in out
    assert "nothing was signalled" in out and "stopped " not in out


def test_start_does_not_skip_a_service_whose_pid_file_names_a_stranger(
    tmp_path: Path, stranger: subprocess.Popen
) -> None:
    settings = PwrSettings(home=tmp_path)
    port = _free_port()
    service = Service(
        "web",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        health_url=f"http://127.0.0.1:{port}/",
    )
    pid_file(settings, "web").parent.mkdir(parents=True)
    pid_file(settings, "web").write_text(_stale_records(stranger.pid)["dagster-webserver"])
    messages: list[str] = []

    pid = start_service(settings, service, env={}, timeout=60, echo=messages.append)
    try:
        assert pid != stranger.pid, "start was skipped: the stale pid file was taken for the service"
        assert any("before the last reboot" in m for m in messages), messages
        recorded = json.loads(pid_file(settings, "web").read_text())
        assert recorded["pid"] == pid and "http.server" in " ".join(recorded["cmdline"])
        # a second start finds the service's own process and does not start another
        assert start_service(settings, service, env={}, timeout=60) == pid
    finally:
        assert stop_service(settings, "web", timeout=20)
    assert not _alive(pid) and stranger.poll() is None
    assert not pid_file(settings, "web").exists()


def test_a_service_that_exits_while_starting_fails_at_once_with_its_log(tmp_path: Path) -> None:
    """A service that dies on start (here: a web server refusing its port) is reported as soon
    as it exits, with its log's end, instead of after the whole health-check timeout."""
    settings = PwrSettings(home=tmp_path)
    port = _free_port()
    service = Service(
        "web",
        [sys.executable, "-c", "import sys, time; time.sleep(0.5); sys.exit('cannot bind 127.0.0.1')"],
        health_url=f"http://127.0.0.1:{port}/",
    )
    started = time.monotonic()
    with pytest.raises(ServiceStartError, match="web exited") as failed:
        start_service(settings, service, env={}, timeout=120)
    assert time.monotonic() - started < 30
    assert "cannot bind 127.0.0.1" in str(failed.value)  # the log's tail


def test_stale_pid_file_of_an_exited_process_is_removed(tmp_path: Path) -> None:
    settings = PwrSettings(home=tmp_path)
    pid = start_service(settings, Service("worker", ["sleep", "300"]), env={})
    os.killpg(pid, signal.SIGKILL)  # a crash: the pid file stays behind
    os.waitpid(pid, 0)
    assert pid_file(settings, "worker").exists()
    messages: list[str] = []

    assert running_process(settings, "worker", echo=messages.append) is None
    assert not pid_file(settings, "worker").exists()
    assert messages and f"process {pid} has exited" in messages[0]
    assert stop_service(settings, "worker") is False  # nothing to stop, nothing signalled


@pytest.mark.skipif(os.geteuid() != 0, reason="starts a process as another user (needs root)")
def test_one_service_that_cannot_be_stopped_does_not_keep_the_others_running(
    tmp_path: Path, pg_server_url: str
) -> None:
    """A service left running by another account (e.g. a `sudo make up`): the kernel refuses the
    signal (EPERM) to `pwr down`, which reports it, keeps its pid file, and stops the others."""
    settings = PwrSettings(home=tmp_path)
    as_nobody = [shutil.which("setpriv"), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    pids = {
        "superset": start_service(settings, Service("superset", ["sleep", "300"]), env={}),
        "dagster-webserver": start_service(
            settings, Service("dagster-webserver", [*as_nobody, "sleep", "300"]), env={}
        ),
        "dagster-daemon": start_service(settings, Service("dagster-daemon", ["sleep", "300"]), env={}),
    }
    try:
        # `pwr down` as an account without the right to signal other users' processes: root's
        # uid with every capability dropped (so the same-uid services remain its own)
        drop_caps = [shutil.which("setpriv"), "--bounding-set=-all", "--inh-caps=-all", "--"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PWR_")}
        env.update(_pwr_env(tmp_path, pg_server_url))
        result = subprocess.run(
            [*drop_caps, os.path.join(os.path.dirname(sys.executable), "pwr"), "down"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        for name in ("superset", "dagster-daemon"):
            os.waitpid(pids[name], os.WNOHANG)  # reap our children so they do not linger as zombies
        assert result.returncode == 1, result.stdout + result.stderr
        assert "stopped superset" in result.stdout and "stopped dagster-daemon" in result.stdout
        assert "1 service(s) could not be stopped" in result.stderr
        assert "dagster-webserver: not allowed to signal pid" in result.stderr
        assert not _alive(pids["superset"]) and not _alive(pids["dagster-daemon"])
        assert _alive(pids["dagster-webserver"])
        assert pid_file(settings, "dagster-webserver").exists(), "the unstoppable one stays on record"
        assert not pid_file(settings, "superset").exists()
    finally:
        for pid in pids.values():
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def test_write_pid_file_refuses_a_process_that_already_exited(tmp_path: Path) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    with pytest.raises(RuntimeError, match="exited right after it was started"):
        write_pid_file(tmp_path / "x.pid", proc.pid)


# --------------------------------------------------------------------------- pwr status, real Dagster
def _status_lines(stdout: str) -> dict[str, str]:
    return {line.split()[0]: line for line in stdout.splitlines() if line.strip()}


@pytest.mark.timeout(1800)
def test_status_shows_real_dagster_running_then_stopped_and_up_starts_past_stale_pid_files(
    tmp_path: Path,
    stranger: subprocess.Popen,
    warehouse_url: str,
    empty_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stale pid files of both Dagster services name a live stranger: `pwr up`'s start still starts
    the real webserver and daemon; `pwr status` shows them (pid, port, health, daemon heartbeat,
    log) and exits 1 because Superset is down; after `pwr down` all are stopped, the stranger lives."""
    port = _free_port()
    env = _pwr_env(
        tmp_path,
        warehouse_url,
        PWR_DAGSTER_DATABASE_URL=empty_database_url,
        PWR_DAGSTER_PORT=str(port),
        PWR_SUPERSET_PORT=str(_free_port()),
        PWR_CODE_SERVER_PORT=str(_free_port()),
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = PwrSettings()
    stale = _stale_records(stranger.pid)
    settings.run_dir.mkdir(parents=True)
    for name in ("dagster-webserver", "dagster-daemon"):
        pid_file(settings, name).write_text(stale["dagster-daemon"])  # a reused pid

    try:
        assert start_dagster(settings) == f"http://127.0.0.1:{port}"
        webserver = running_process(settings, "dagster-webserver")
        daemon = running_process(settings, "dagster-daemon")
        assert webserver and daemon and stranger.pid not in {webserver.pid, daemon.pid}

        deadline = time.monotonic() + 600
        while not daemon_heartbeats(settings)[0]:  # its first beats follow its first code load
            assert time.monotonic() < deadline, "the daemon wrote no healthy heartbeat in 600 s"
            time.sleep(1)
        status = run_pwr(env, "status", timeout=600)
        lines = _status_lines(status.stdout)
        assert status.returncode == 1, "Superset is down: status must fail"
        assert "not running or not healthy: superset" in status.stderr
        web = lines["dagster-webserver"]
        assert f"pid {webserver.pid}" in web and f"port {port}" in web and "answers 200" in web
        assert str(settings.log_dir / "dagster-webserver.log") in web
        assert (
            f"pid {daemon.pid}" in lines["dagster-daemon"]
            and "daemon types healthy" in lines["dagster-daemon"]
        )
        code_server = running_process(settings, "dagster-code-server")
        assert code_server and f"pid {code_server.pid}" in lines["dagster-code-server"]
        assert "answers a gRPC ping" in lines["dagster-code-server"]
        assert lines["superset"].split()[1] == "stopped"
        assert lines["postgresql"].split()[1] == "external" and "accepts connections" in lines["postgresql"]
    finally:
        down = run_pwr(env, "down", timeout=600)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped dagster-daemon" in down.stdout and "stopped dagster-webserver" in down.stdout
    assert "stopped dagster-code-server" in down.stdout
    assert stranger.poll() is None
    after = run_pwr(env, "status", timeout=600)
    lines = _status_lines(after.stdout)
    assert after.returncode == 1
    for name in ("dagster-code-server", "dagster-webserver", "dagster-daemon", "superset"):
        assert lines[name].split()[1] == "stopped", after.stdout
