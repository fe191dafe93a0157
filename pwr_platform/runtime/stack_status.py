"""What ``pwr status`` shows: every service of the local stack, its pid, port, health and log.

The answer comes from the services themselves, not from the pid files alone: a pid file is
trusted only while /proc shows the process it recorded (:mod:`pwr_platform.runtime.pid_files`), the
code server must answer a gRPC ping, the webserver and Superset must answer their health URL, PostgreSQL must accept a connection, and
the daemon's health is Dagster's own verdict on the heartbeats in the instance's storage.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from pwr_platform.runtime.dagster_instance import dagster_env
from pwr_platform.runtime.services import (
    Echo,
    Service,
    dagster_services,
    http_ok,
    log_file,
    running_process,
)
from pwr_platform.runtime.superset_service import SERVICE_NAME as SUPERSET_SERVICE
from pwr_platform.runtime.superset_service import superset_health_url
from pwr_platform.settings import PwrSettings
from pwr_platform.warehouse.connection import embedded_server, uses_embedded, warehouse_url


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # running | stopped | unhealthy | external
    healthy: bool
    pid: int | None
    port: int | None
    health: str
    log: Path | None

    def line(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "-"
        port = f"port {self.port}" if self.port else "-"
        log = f"log {self.log}" if self.log else ""
        return f"{self.name:<18} {self.state:<10} {pid:<11} {port:<11} {self.health:<46} {log}".rstrip()


def _db_answers(url: str) -> str | None:
    """None when the server accepts a connection, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def postgres_status(settings: PwrSettings) -> ServiceStatus:
    if not uses_embedded(settings):
        url = warehouse_url(settings)
        problem = _db_answers(url)
        return ServiceStatus(
            "postgresql",
            "external",
            problem is None,
            None,
            make_url(url).port,
            f"unreachable: {problem}" if problem else "accepts connections (PWR_DATABASE_URL)",
            None,
        )
    server = embedded_server(settings)
    port = server.running_port() if server.is_initialized else None
    if port is None:
        return ServiceStatus("postgresql", "stopped", False, None, settings.db_port, "-", server.log_file)
    pid = int((server.pgdata / "postmaster.pid").read_text().splitlines()[0])
    problem = _db_answers(server.url("postgres"))
    state = "running" if problem is None else "unhealthy"
    health = "accepts connections" if problem is None else f"refuses connections: {problem}"
    return ServiceStatus("postgresql", state, problem is None, pid, port, health, server.log_file)


def http_service_status(
    settings: PwrSettings, name: str, port: int, health_url: str, echo: Echo
) -> ServiceStatus:
    process = running_process(settings, name, echo)
    log = log_file(settings, name)
    if process is None:
        return ServiceStatus(name, "stopped", False, None, port, "-", log)
    if http_ok(health_url, timeout=5):
        return ServiceStatus(name, "running", True, process.pid, port, f"{health_url} answers 200", log)
    return ServiceStatus(name, "unhealthy", False, process.pid, port, f"{health_url} does not answer", log)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """The instance reads DAGSTER_HOME and its storage URL from the environment: set them only
    while it is open, so a caller's own environment is left as it was."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def daemon_heartbeats(settings: PwrSettings) -> tuple[bool, str]:
    """Dagster's own verdict on the daemon's heartbeats (every required daemon type), and a summary."""
    from dagster import DagsterInstance

    with _environment(dagster_env(settings)), DagsterInstance.get() as instance:
        statuses = instance.get_daemon_statuses()
    beats = [s.last_heartbeat.timestamp for s in statuses.values() if s.last_heartbeat]
    if not beats:
        return False, "no heartbeat recorded yet"
    age = time.time() - min(beats)
    unhealthy = sorted(t for t, s in statuses.items() if not s.healthy)
    if unhealthy:
        return False, f"oldest heartbeat {age:.0f}s ago; not healthy: {', '.join(unhealthy)}"
    return True, f"heartbeat {age:.0f}s ago ({len(statuses)} daemon types healthy)"


def daemon_status(settings: PwrSettings, name: str, echo: Echo) -> ServiceStatus:
    process = running_process(settings, name, echo)
    log = log_file(settings, name)
    if process is None:
        return ServiceStatus(name, "stopped", False, None, None, "-", log)
    try:
        healthy, summary = daemon_heartbeats(settings)
    except Exception as exc:  # noqa: BLE001 - the storage may be down: say so, do not crash
        healthy, summary = False, f"heartbeats unreadable: {str(exc).strip().splitlines()[0][:80]}"
    return ServiceStatus(
        name, "running" if healthy else "unhealthy", healthy, process.pid, None, summary, log
    )


def code_server_status(settings: PwrSettings, service: Service, echo: Echo) -> ServiceStatus:
    process = running_process(settings, service.name, echo)
    log = log_file(settings, service.name)
    port = settings.code_server_port
    if process is None:
        return ServiceStatus(service.name, "stopped", False, None, port, "-", log)
    if service.ready and service.ready():
        return ServiceStatus(service.name, "running", True, process.pid, port, "answers a gRPC ping", log)
    return ServiceStatus(service.name, "unhealthy", False, process.pid, port, "no answer to a gRPC ping", log)


def stack_status(settings: PwrSettings, echo: Echo = print) -> list[ServiceStatus]:
    code_server, webserver, daemon = dagster_services(settings)
    return [
        postgres_status(settings),
        code_server_status(settings, code_server, echo),
        http_service_status(settings, webserver.name, settings.dagster_port, webserver.health_url, echo),
        daemon_status(settings, daemon.name, echo),
        http_service_status(
            settings,
            SUPERSET_SERVICE,
            settings.superset_port,
            superset_health_url(settings),
            echo,
        ),
    ]


def service_logs(settings: PwrSettings) -> dict[str, Path]:
    """Each service of the local stack → its log file (``pwr logs``), in ``pwr status`` order.

    PostgreSQL is listed only when the platform runs it (the embedded server): a server named by
    PWR_DATABASE_URL keeps its log wherever its own administrator put it.
    """
    logs = {}
    if uses_embedded(settings):
        logs["postgresql"] = embedded_server(settings).log_file
    for service in dagster_services(settings):
        logs[service.name] = log_file(settings, service.name)
    logs[SUPERSET_SERVICE] = log_file(settings, SUPERSET_SERVICE)
    return logs
