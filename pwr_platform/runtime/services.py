"""Start, stop and inspect the long-running local processes behind ``make up`` / ``make down``.

Each service is a detached process group with a pid file in ``PWR_HOME/run`` and a log in
``PWR_HOME/logs``. Dagster runs as ``dagster api grpc`` (the code server) + ``dagster-webserver`` +
``dagster-daemon`` (not ``dagster dev``, which ignores SIGINT/SIGTERM when started from a
script): the code server loads the code location once and serves it over gRPC to the other two,
which would otherwise each start and keep a code-server process of their own; runs are launched
by it (issue 16).

A pid file is trusted only while ``/proc`` still shows the very process it recorded
(:mod:`pwr_platform.runtime.pid_files`): a stale one (a reboot, a crash, a reused pid) is removed, its
pid is never signalled, and the service is started afresh. Stopping several services never
stops at the first failure: :func:`stop_all` tries each one and reports every error at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pwr_platform.paths import REPO_ROOT
from pwr_platform.runtime.dagster_instance import LOCATION_NAME, dagster_env, write_workspace
from pwr_platform.runtime.pid_files import (
    ProcessIdentity,
    check_pid_file,
    is_same_process,
    reap_if_child,
    write_pid_file,
)
from pwr_platform.settings import PwrSettings, get_settings

Echo = Callable[[str], None]


@dataclass
class Service:
    name: str
    argv: list[str]
    health_url: str | None = None
    ready: Callable[[], bool] | None = None  # health without an HTTP URL (the gRPC code server)


class ServiceStopError(RuntimeError):
    """A service could not be stopped; the message names it and says why."""


class ServiceStartError(RuntimeError):
    """A service could not be started (its port taken, it exited, it never answered); the
    message names it, says why and ends with its log's tail."""


# The port each service listens on, by name: the setting (attribute, variable) that moves it.
PORT_SETTINGS = {
    "dagster-code-server": ("code_server_port", "PWR_CODE_SERVER_PORT"),
    "dagster-webserver": ("dagster_port", "PWR_DAGSTER_PORT"),
    "superset": ("superset_port", "PWR_SUPERSET_PORT"),
}


def port_in_use(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


CODE_SERVER = "dagster-code-server"


def grpc_ok(port: int, timeout: float = 60) -> bool:
    """The code server answers a gRPC ping (Dagster's own health check, as in docker/bin)."""
    try:
        check = [_bin("dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(port)]
        return subprocess.run(check, capture_output=True, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def dagster_services(settings: PwrSettings) -> list[Service]:
    """Code server first (the others load the code from it), then webserver and daemon."""
    port, grpc_port = settings.dagster_port, settings.code_server_port
    workspace = str(settings.dagster_home / "workspace.yaml")
    return [
        # `dagster api grpc`, the gRPC server itself, not `dagster code-server start`, which is a
        # proxy that starts that same server as a child process: two processes relaying every
        # call, each with its own gRPC threads waking up while nothing happens — about 0.6 % of a
        # core of the idle stack's 5 % (issue 16). What the proxy adds is "Reload" in the UI
        # restarting the child; on this stack the code changes with `pwr down` / `pwr up`
        # (engineers editing definitions use `dagster dev`, which reloads).
        Service(
            CODE_SERVER,
            [_bin("dagster"), "api", "grpc", "-h", "127.0.0.1", "-p", str(grpc_port)]
            + ["-m", "pwr_platform.definitions", "--location-name", LOCATION_NAME],
            ready=lambda: grpc_ok(grpc_port),
        ),
        Service(
            "dagster-webserver",
            [_bin("pwr-dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", workspace],
            health_url=f"http://127.0.0.1:{port}/server_info",
        ),
        Service("dagster-daemon", [_bin("pwr-dagster-daemon"), "run", "-w", workspace]),
    ]


def pid_file(settings: PwrSettings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def log_file(settings: PwrSettings, name: str) -> Path:
    return settings.log_dir / f"{name}.log"


def running_process(settings: PwrSettings, name: str, echo: Echo = print) -> ProcessIdentity | None:
    """The service's live process, or None; a stale pid file is removed and said so."""
    check = check_pid_file(pid_file(settings, name))
    if check is None:
        return None
    if check.stale_reason:
        echo(f"{name}: removed stale pid file {check.path} ({check.stale_reason}); nothing was signalled")
    return check.identity


def http_ok(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_http(
    url: str, timeout: float, proc_name: str, log: Path, alive: Callable[[], bool] = lambda: True
) -> None:
    wait_ready(lambda: http_ok(url), timeout, proc_name, log, url, alive)


def check_port_free(settings: PwrSettings, name: str, echo: Echo = print) -> None:
    """Refuse to start service ``name`` when another program holds its port.

    Said at once, in one line: the service would fail to bind and its health check would wait
    the whole timeout (or take the other program's answer for the service's). Its own running
    process is no obstacle (starting is then a no-op). ``pwr up`` checks every port first, before
    minutes of migrating and materializing."""
    attribute, variable = PORT_SETTINGS.get(name, (None, None))
    port = getattr(settings, attribute) if attribute else None
    if port is None or running_process(settings, name, echo) is not None:
        return
    if port_in_use(port):
        raise ServiceStartError(
            f"{name}: 127.0.0.1:{port} is taken by another program; set {variable} to a free port "
            "(or stop that program)"
        )


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def wait_ready(
    ready: Callable[[], bool],
    timeout: float,
    proc_name: str,
    log: Path,
    what: str,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Until ``ready()``; a process that exits meanwhile (``alive()`` false) fails at once, not
    after the whole timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not alive():
            raise ServiceStartError(f"{proc_name} exited while starting; end of {log}:\n{_tail(log)}")
        time.sleep(0.5)
    raise ServiceStartError(
        f"{proc_name} did not answer {what} within {timeout:.0f}s; end of {log}:\n{_tail(log)}"
    )


def start_service(
    settings: PwrSettings, service: Service, env: dict[str, str], timeout: float = 180, echo: Echo = print
) -> int:
    """Start ``service`` unless its own process already runs; wait for its health URL."""
    running = running_process(settings, service.name, echo)
    alive = lambda: True  # noqa: E731 - a process of an earlier start: its health decides
    if running is not None:
        pid = running.pid
    else:
        check_port_free(settings, service.name, echo)
        log_path = log_file(settings, service.name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
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
        # Popen returns once the program is exec'd, so /proc already shows its real command line
        try:
            write_pid_file(pid_file(settings, service.name), proc.pid)
        except RuntimeError:  # it exited at once (a bad argument, a missing program)
            raise ServiceStartError(
                f"{service.name} exited right after it was started; end of {log_path}:\n{_tail(log_path)}"
            ) from None
        pid = proc.pid
        alive = lambda: proc.poll() is None  # noqa: E731
    if service.health_url:
        wait_http(service.health_url, timeout, service.name, log_file(settings, service.name), alive)
    if service.ready:
        what = "a gRPC ping"
        wait_ready(service.ready, timeout, service.name, log_file(settings, service.name), what, alive)
    return pid


def _signal_group(name: str, identity: ProcessIdentity, sig: signal.Signals) -> None:
    try:
        os.killpg(identity.pid, sig)  # the service leads its own session: its workers go too
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise ServiceStopError(
            f"{name}: not allowed to signal pid {identity.pid} ({exc.strerror}); it runs as another "
            f"user: stop it as that user (or root); its pid file is kept"
        ) from exc


def _wait_gone(identity: ProcessIdentity, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        reap_if_child(identity.pid)  # a zombie of our own child would look alive otherwise
        if not is_same_process(identity):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def stop_service(settings: PwrSettings, name: str, timeout: float = 30, echo: Echo = print) -> bool:
    """SIGTERM the service's process group, SIGKILL after ``timeout``; False when not running.

    Raises :class:`ServiceStopError` when the process cannot be signalled or survives SIGKILL.
    """
    identity = running_process(settings, name, echo)
    if identity is None:
        return False
    _signal_group(name, identity, signal.SIGTERM)
    if not _wait_gone(identity, timeout):
        echo(f"{name}: pid {identity.pid} ignored SIGTERM for {timeout:.0f}s; sending SIGKILL")
        _signal_group(name, identity, signal.SIGKILL)
        if not _wait_gone(identity, 10):
            raise ServiceStopError(f"{name}: pid {identity.pid} is still running after SIGKILL")
    pid_file(settings, name).unlink(missing_ok=True)
    return True


@dataclass
class StopReport:
    stopped: list[str]
    errors: list[str]


def stop_all(steps: list[tuple[str, Callable[[], bool]]]) -> StopReport:
    """Run every stop step, whatever the others do: one stuck service never keeps the rest up."""
    report = StopReport([], [])
    for name, stop in steps:
        try:
            if stop():
                report.stopped.append(name)
        except Exception as exc:  # noqa: BLE001 - collected and reported, the next service still stops
            report.errors.append(str(exc) if name in str(exc) else f"{name}: {exc}")
    return report


def start_dagster(settings: PwrSettings | None = None) -> str:
    settings = settings or get_settings()
    env = dagster_env(settings, start=True)
    write_workspace(settings)
    for service in dagster_services(settings):
        start_service(settings, service, env)
    return f"http://127.0.0.1:{settings.dagster_port}"


def dagster_stop_steps(settings: PwrSettings, echo: Echo = print) -> list[tuple[str, Callable[[], bool]]]:
    """Daemon first (it launches runs), then the webserver, then the code server they load from."""
    return [
        (s.name, lambda name=s.name: stop_service(settings, name, echo=echo))
        for s in reversed(dagster_services(settings))
    ]
