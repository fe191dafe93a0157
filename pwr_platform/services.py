"""Start and stop the long-running local processes behind ``make up`` / ``make down``.

Each service is a detached process group with a pid file in ``PWR_HOME/run`` and a log in
``PWR_HOME/logs``. Dagster runs as ``dagster-webserver`` + ``dagster-daemon`` (not
``dagster dev``, which ignores SIGINT/SIGTERM when started from a script).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pwr_platform.settings import PwrSettings, get_settings
from pwr_platform.warehouse.dagster_instance import REPO_ROOT, WORKSPACE_FILE, dagster_env


@dataclass
class Service:
    name: str
    argv: list[str]
    health_url: str | None = None


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def dagster_services(settings: PwrSettings) -> list[Service]:
    port = settings.dagster_port
    return [
        Service(
            "dagster-webserver",
            [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(WORKSPACE_FILE)],
            health_url=f"http://127.0.0.1:{port}/server_info",
        ),
        Service("dagster-daemon", [_bin("dagster-daemon"), "run", "-w", str(WORKSPACE_FILE)]),
    ]


def _pid_file(settings: PwrSettings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def running_pid(settings: PwrSettings, name: str) -> int | None:
    path = _pid_file(settings, name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    return pid


def wait_http(url: str, timeout: float, proc_name: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    tail = log.read_text()[-2000:] if log.exists() else ""
    raise RuntimeError(f"{proc_name} did not answer {url} within {timeout:.0f}s; end of {log}:\n{tail}")


def start_service(settings: PwrSettings, service: Service, env: dict[str, str], timeout: float = 180) -> int:
    pid = running_pid(settings, service.name)
    if pid is None:
        settings.run_dir.mkdir(parents=True, exist_ok=True)
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = settings.log_dir / f"{service.name}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                service.argv,
                cwd=REPO_ROOT,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _pid_file(settings, service.name).write_text(f"{proc.pid}\n")
        pid = proc.pid
    if service.health_url:
        wait_http(service.health_url, timeout, service.name, settings.log_dir / f"{service.name}.log")
    return pid


def stop_service(settings: PwrSettings, name: str, timeout: float = 30) -> bool:
    pid = running_pid(settings, name)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # reap it when this process started it (tests): a zombie still answers kill(pid, 0)
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.killpg(pid, signal.SIGKILL)
    _pid_file(settings, name).unlink(missing_ok=True)
    return True


def start_dagster(settings: PwrSettings | None = None) -> str:
    settings = settings or get_settings()
    env = dagster_env(settings, start=True)
    for service in dagster_services(settings):
        start_service(settings, service, env)
    return f"http://127.0.0.1:{settings.dagster_port}"


def stop_dagster(settings: PwrSettings | None = None) -> list[str]:
    settings = settings or get_settings()
    return [s.name for s in reversed(dagster_services(settings)) if stop_service(settings, s.name)]
