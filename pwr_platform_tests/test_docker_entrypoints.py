"""Each container's command line, run outside Docker: the same docker/bin scripts, the same settings.

A throwaway PostgreSQL 16 (the wheel's server, the major version of the compose image) is
started with the compose service's own ``-c`` settings and initialised by the compose init script
(roles pwr / dagster / superset). Then the platform containers' scripts run against it, each
with the environment compose gives that container: migrations one-shot, code server (gRPC
health check), webserver (``/server_info`` and the code location loaded over gRPC), daemon
(liveness check), and the Superset bundle import once `pwr superset import` exists.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pwr_platform.ingest.records import HeartbeatRecord, voice_payload
from pwr_platform.ingest.writer import Writer
from pwr_platform.runtime.embedded_postgres import EmbeddedPostgres, _bin_path
from pwr_platform.warehouse import migrate
from pwr_platform_tests.conftest import REPO_ROOT
from pwr_platform_tests.docker_support import (
    BIN_DIR,
    DOCKER_DIR,
    container_script,
    load_compose,
    postgres_settings,
    sample_env,
)

# Memory sizes small enough for a shared 2-core test machine; everything else is production's.
SMALL_MEMORY = {
    "PWR_PG_SHARED_BUFFERS": "128MB",
    "PWR_PG_EFFECTIVE_CACHE_SIZE": "1GB",
    "PWR_PG_MAINTENANCE_WORK_MEM": "64MB",
    "PWR_PG_WORK_MEM": "8MB",
    "PWR_PG_MAX_WAL_SIZE": "2GB",
}
CODE_SERVER_PORT = int(os.environ.get("PWR_TEST_CODE_SERVER_PORT", "4015"))
WEBSERVER_PORT = int(os.environ.get("PWR_DAGSTER_PORT", "3015"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ComposePostgres:
    """The compose ``postgres`` service, reproduced on the wheel's PostgreSQL 16 binaries."""

    def __init__(self, root: Path) -> None:
        self.env = sample_env(**SMALL_MEMORY)
        self.compose = load_compose(self.env)
        self.settings = postgres_settings(self.compose)
        self.server = EmbeddedPostgres(
            pgdata=root / "pgdata", port=_free_port(), secrets_dir=root / "secrets"
        )

    def start(self) -> None:
        self.server.init()
        options = " ".join(shlex.quote(f"-c{k}={v}") for k, v in self.settings.items())
        self.server._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.server.pgdata),
            "-l",
            str(self.server.log_file),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {self.server.port} {options}",
        )

    def run_init_scripts(self) -> subprocess.CompletedProcess:
        """docker-entrypoint-initdb.d, as the image runs it: psql as POSTGRES_USER, env from compose."""
        service_env = self.compose["services"]["postgres"]["environment"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PWR_")}
        env.update({k: str(v) for k, v in service_env.items()})
        env.update(
            PATH=f"{_bin_path()}:{env['PATH']}",
            PGHOST="127.0.0.1",
            PGPORT=str(self.server.port),
            PGPASSWORD=self.server.password(),
        )
        scripts = sorted((DOCKER_DIR / "postgres" / "initdb").iterdir())
        assert scripts, "no init scripts"
        output = []
        for script in scripts:
            proc = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, f"{script.name}: {proc.stdout}{proc.stderr}"
            output.append(proc.stdout)
        return "".join(output)

    def url(self, role: str, database: str) -> str:
        password = {
            "pwr": "PWR_DB_PASSWORD",
            "dagster": "PWR_DAGSTER_DB_PASSWORD",
            "superset": "PWR_SUPERSET_METADATA_DB_PASSWORD",
        }
        return f"postgresql://{role}:{self.env[password[role]]}@127.0.0.1:{self.server.port}/{database}"

    def container_env(self, service: str) -> dict[str, str]:
        """What compose puts in ``service``'s environment, pointed at this server instead of `postgres:5432`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PWR_", "DAGSTER_"))}
        for key, value in self.compose["services"][service].get("environment", {}).items():
            env[key] = str(value).replace("@postgres:5432/", f"@127.0.0.1:{self.server.port}/")
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
        return env


@pytest.fixture(scope="module")
def compose_pg(tmp_path_factory) -> Iterator[ComposePostgres]:
    pg = ComposePostgres(tmp_path_factory.mktemp("compose-pg"))
    pg.start()
    try:
        pg.init_output = pg.run_init_scripts()
        yield pg
    finally:
        pg.server.stop()


# --------------------------------------------------------------------------- postgres service
def test_postgres_runs_with_the_compose_settings(compose_pg: ComposePostgres) -> None:
    with psycopg.connect(compose_pg.server.url("postgres")) as conn:
        rows = dict(conn.execute("SELECT lower(name), source FROM pg_settings").fetchall())
        for name, value in compose_pg.settings.items():
            assert rows[name] == "command line", f"{name} did not come from the compose command"
            shown = conn.execute(f"SHOW {name}").fetchone()[0]
            assert shown.lower() == value.lower(), f"{name}: compose says {value}, server runs {shown}"


def test_production_sizes_are_valid_postgres_settings(compose_pg: ComposePostgres) -> None:
    """The default (8 GB host) sizes parse: ``postgres -C`` reads the config without starting."""
    production = postgres_settings(load_compose(sample_env()))
    assert production["shared_buffers"] == "2GB" and production["max_wal_size"] == "8GB"
    args = ["-D", str(compose_pg.server.pgdata), "-C", "shared_buffers"]
    for name, value in production.items():
        args += ["-c", f"{name}={value}"]
    proc = compose_pg.server._run("postgres", *args, check=False)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.strip().splitlines()[-1] in ("2GB", "262144")


def test_init_script_gives_each_component_its_own_role_and_database(compose_pg: ComposePostgres) -> None:
    for role in ("pwr", "dagster", "superset"):
        with psycopg.connect(compose_pg.url(role, role)) as conn:
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            ).fetchone()[0]
            assert owner == role
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
                False,
            )
    for role, database in (("dagster", "superset"), ("superset", "dagster"), ("pwr", "dagster")):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(compose_pg.url(role, database)).close()
    with psycopg.connect(compose_pg.url("pwr", "pwr")) as conn:
        assert conn.execute("SELECT rolcreaterole FROM pg_roles WHERE rolname = 'pwr'").fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(compose_pg.url("pwr", "pwr").replace("1" * 64, "wrong")).close()


# --------------------------------------------------------------------------- migrate (one-shot)
def _run_script(service: str, pg: ComposePostgres, timeout: float = 300, **extra: str):
    command = pg.compose["services"][service]["command"]
    env = {**pg.container_env(service), **extra}
    return subprocess.run(
        [str(container_script(command[0]))], env=env, capture_output=True, text=True, timeout=timeout, cwd="/"
    )


def test_migrate_one_shot_applies_the_schema_and_is_idempotent(compose_pg: ComposePostgres) -> None:
    first = _run_script("migrate", compose_pg)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Schema migrated (empty) →" in first.stdout
    url = compose_pg.url("pwr", "pwr")
    assert migrate.current_revision(url) == migrate.head_revision()
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname IN ('pwr_raw', 'pwr_core', 'pwr_agg') AND tableowner = 'pwr'"
        ).fetchone()[0]
    assert tables >= 10
    again = _run_script("migrate", compose_pg)
    assert again.returncode == 0 and "Schema already at" in again.stdout


def test_bot_role_from_compose_can_only_insert_and_select_raw(compose_pg: ComposePostgres) -> None:
    """The bot's compose URL (role pwr_bot, password set by the migrate one-shot) writes real
    records through the collector's writer; every other change is refused by PostgreSQL."""
    migrated = _run_script("migrate", compose_pg)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "Passwords of pwr_bot, pwr_reader set from the environment." in migrated.stdout
    bot_url = compose_pg.container_env("bot")["PWR_DATABASE_URL"]
    assert bot_url.startswith("postgresql://pwr_bot:")
    t0 = datetime(2026, 10, 1, 18, 0, tzinfo=UTC)
    records = [
        voice_payload("join", t0 + timedelta(seconds=i), 811111111111111111, 1000 + i, 500, source="bot")
        for i in range(20)
    ]
    records.append(HeartbeatRecord(811111111111111111, "role-drill", t0))
    writer = Writer(bot_url)
    writer.write_batch(records)
    writer.write_batch(records)  # a replay: ON CONFLICT DO NOTHING needs no more than INSERT
    writer.close()
    assert writer.stats.inserted["voice"] == 20 and writer.stats.duplicates["voice"] == 20
    with psycopg.connect(bot_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pwr_raw.discord_voice_events").fetchone() == (20,)
        assert conn.execute("SELECT count(*) FROM pwr_raw.collector_heartbeats").fetchone() == (1,)
        refused = [
            "UPDATE pwr_raw.discord_voice_events SET event_type = 'leave'",
            "DELETE FROM pwr_raw.discord_voice_events",
            "TRUNCATE pwr_raw.collector_heartbeats",
            "ALTER TABLE pwr_raw.discord_voice_events ADD COLUMN x int",
            "CREATE TABLE pwr_raw.sneaky (x int)",
            "SELECT count(*) FROM pwr_core.members",
            "INSERT INTO pwr_core.members (discord_user_id, first_seen_ts) VALUES (1, now())",
            "SELECT count(*) FROM pwr_agg.member_voice_daily",
            "SELECT count(*) FROM public.alembic_version",
            "SELECT setval(pg_get_serial_sequence('pwr_raw.discord_voice_events', 'id'), 1)",
        ]
        for statement in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    # nothing the bot tried changed what was collected
    with psycopg.connect(compose_pg.url("pwr", "pwr")) as conn:
        assert conn.execute("SELECT count(*) FROM pwr_raw.discord_voice_events").fetchone() == (20,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bot_url.replace("7" * 64, "8" * 64)).close()


def test_migrate_one_shot_fails_loudly_without_a_database_url() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWR_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    proc = subprocess.run([str(BIN_DIR / "pwr-migrate")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "PWR_DATABASE_URL" in proc.stderr


# --------------------------------------------------------------------------- Dagster services
class Services:
    """Long-running scripts started as their containers would start them; stopped at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, service: str, pg: ComposePostgres, **extra: str) -> subprocess.Popen:
        command = pg.compose["services"][service]["command"]
        log = open(self.log_dir / f"{service}.log", "wb")  # noqa: SIM115 - the process owns it
        proc = subprocess.Popen(
            [str(container_script(command[0]))],
            env={**pg.container_env(service), **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd="/",
        )
        self.procs[service] = proc
        return proc

    def log(self, service: str) -> str:
        return (self.log_dir / f"{service}.log").read_text()[-4000:]

    def wait_until(self, service: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[service].poll() is not None:
                pytest.fail(f"{service} exited ({self.procs[service].returncode}):\n{self.log(service)}")
            if check():
                return
            time.sleep(1)
        pytest.fail(f"{service} not ready within {timeout:.0f}s:\n{self.log(service)}")

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _healthcheck(pg: ComposePostgres, service: str, env: dict[str, str], replace: dict[str, str]) -> bool:
    """Run the service's compose health check command (ports moved to the test's)."""
    test = pg.compose["services"][service]["healthcheck"]["test"]
    argv = [str(container_script(test[1])) if test[1].startswith("/opt/") else test[1], *test[2:]]
    argv = [replace.get(a, a) for a in argv]
    argv = [a.replace("127.0.0.1:3000", f"127.0.0.1:{WEBSERVER_PORT}") for a in argv]
    return subprocess.run(argv, env=env, capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="module")
def dagster_stack(compose_pg: ComposePostgres, tmp_path_factory) -> Iterator[dict]:
    """Code server, webserver and daemon from their scripts, on the compose roles and databases."""
    from pwr_platform.runtime.dagster_instance import write_instance
    from pwr_platform.settings import PwrSettings

    migrated = _run_script("migrate", compose_pg)
    assert migrated.returncode == 0, migrated.stderr
    home = tmp_path_factory.mktemp("pwr-home")
    # what the image's build step does: the package writes dagster.yaml under PWR_HOME
    write_instance(PwrSettings(home=home))
    common = {
        "PWR_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),  # the image's ENV (health checks run without the scripts)
        "PWR_CODE_SERVER_PORT": str(CODE_SERVER_PORT),
        "PWR_CODE_SERVER_BIND": "127.0.0.1",
        "PWR_CODE_SERVER_HOST": "127.0.0.1",
        "PWR_DAGSTER_PORT": str(WEBSERVER_PORT),
        "PWR_DAGSTER_HOST": "127.0.0.1",
    }
    services = Services(tmp_path_factory.mktemp("logs"))
    try:
        services.start("dagster-code-server", compose_pg, **common)
        env = {**compose_pg.container_env("dagster-code-server"), **common}
        services.wait_until(
            "dagster-code-server",
            lambda: _healthcheck(compose_pg, "dagster-code-server", env, {}),
            timeout=240,
        )
        services.start("dagster-webserver", compose_pg, **common)
        web_env = {**compose_pg.container_env("dagster-webserver"), **common}
        services.wait_until(
            "dagster-webserver",
            lambda: _healthcheck(compose_pg, "dagster-webserver", web_env, {}),
            timeout=240,
        )
        services.start("dagster-daemon", compose_pg, **common)
        yield {"services": services, "common": common, "home": home}
    finally:
        services.stop_all()


def test_code_server_answers_grpc(compose_pg: ComposePostgres, dagster_stack: dict) -> None:
    env = {**compose_pg.container_env("dagster-code-server"), **dagster_stack["common"]}
    assert _healthcheck(compose_pg, "dagster-code-server", env, {})
    listing = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "api", "grpc-health-check", "-p", "1"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert listing.returncode != 0, "the health check must fail where no code server listens"


def _graphql(query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{WEBSERVER_PORT}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())["data"]


def test_webserver_answers_server_info_and_loads_code_over_grpc(dagster_stack: dict) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{WEBSERVER_PORT}/server_info", timeout=30) as resp:
        info = json.loads(resp.read())
    assert info["dagster_version"] == "1.13.27"
    data = _graphql(
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus"
        " displayMetadata { key value } locationOrLoadError { __typename } } } } }"
    )
    (entry,) = data["workspaceOrError"]["locationEntries"]
    assert entry["name"] == "pwr_platform" and entry["loadStatus"] == "LOADED"
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
    metadata = {m["key"]: m["value"] for m in entry["displayMetadata"]}
    assert metadata.get("port") == str(CODE_SERVER_PORT), metadata


def test_daemon_heartbeats_into_postgres(compose_pg: ComposePostgres, dagster_stack: dict) -> None:
    services: Services = dagster_stack["services"]
    env = {**compose_pg.container_env("dagster-daemon"), **dagster_stack["common"]}
    services.wait_until(
        "dagster-daemon", lambda: _healthcheck(compose_pg, "dagster-daemon", env, {}), timeout=180
    )
    with psycopg.connect(compose_pg.url("dagster", "dagster")) as conn:
        daemons = {r[0] for r in conn.execute("SELECT daemon_type FROM daemon_heartbeats").fetchall()}
    assert {"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR"} <= daemons


# --------------------------------------------------------------------------- Superset init (one-shot)
def _superset_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    venv_bin = REPO_ROOT / ".venv-superset" / "bin"
    assert (venv_bin / "superset").exists(), "run `make superset-install` first"
    return {
        "PATH": f"{venv_bin}:{os.environ['PATH']}",
        "SUPERSET_CONFIG_PATH": str(REPO_ROOT / "superset" / "superset_config.py"),
        "SUPERSET_HOME": str(tmp_path / "superset-home"),
        "PWR_SUPERSET_HOME": str(tmp_path / "superset-home"),
        **extra,
    }


# Minutes each: a worker of their own (and a compose_pg of its own) under pytest-xdist.
@pytest.mark.xdist_group("docker-superset-init")
@pytest.mark.timeout(1800)
def test_superset_init_never_puts_the_admin_password_on_a_command_line(
    compose_pg: ComposePostgres, tmp_path: Path
) -> None:
    """Every program the init one-shot executes is traced (strace, execve with full argv): the
    admin password is in none of them, and the admin it creates logs in with that password."""
    password = compose_pg.env["PWR_SUPERSET_ADMIN_PASSWORD"]
    trace = tmp_path / "execve.trace"
    script = container_script(compose_pg.compose["services"]["superset-init"]["command"][0])
    env = {**compose_pg.container_env("superset-init"), **_superset_env(tmp_path)}
    traced = ["strace", "-f", "--seccomp-bpf", "-e", "trace=execve", "-s", "100000", "-o", str(trace)]
    proc = subprocess.run(
        [*traced, str(script)], env=env, capture_output=True, text=True, timeout=900, cwd="/"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    execs = [line for line in trace.read_text().splitlines() if "execve(" in line]
    assert any("superset/bootstrap.py" in line for line in execs), "the trace missed the set-up itself"
    leaking = [line for line in execs if password in line]
    assert leaking == [], f"the admin password is on a command line: {leaking[0][:200]}"
    # and the password did reach Superset: the stored hash verifies against it
    with psycopg.connect(compose_pg.url("superset", "superset")) as conn:
        (stored,) = conn.execute(
            "SELECT password FROM ab_user WHERE username = %s", (compose_pg.env["PWR_SUPERSET_ADMIN_USER"],)
        ).fetchone()
    check = subprocess.run(
        [
            str(REPO_ROOT / ".venv-superset" / "bin" / "python"),
            "-c",
            "import os, sys; from werkzeug.security import check_password_hash as c; "
            "sys.exit(0 if c(os.environ['HASH'], os.environ['PW']) else 1)",
        ],
        env={"HASH": stored, "PW": password},
        timeout=60,
    )
    assert check.returncode == 0, "the admin's stored password is not docker/.env's"


# --------------------------------------------------------------------------- Superset bundle import
@pytest.mark.xdist_group("docker-superset-import")
def test_superset_bundle_import_one_shot(compose_pg: ComposePostgres, tmp_path) -> None:
    """superset-init, superset (gunicorn) and superset-import from their scripts, then import twice."""
    migrated = _run_script("migrate", compose_pg)
    assert migrated.returncode == 0, migrated.stderr
    port = _free_port()
    superset_env = _superset_env(
        tmp_path, PWR_SUPERSET_PORT=str(port), PWR_SUPERSET_HOST="127.0.0.1", PWR_SUPERSET_WORKERS="2"
    )
    init = _run_script("superset-init", compose_pg, timeout=600, **superset_env)
    assert init.returncode == 0, init.stdout[-3000:] + init.stderr[-3000:]
    services = Services(tmp_path)
    try:
        services.start("superset", compose_pg, **superset_env)
        services.wait_until(
            "superset",
            lambda: _healthcheck(
                compose_pg,
                "superset",
                superset_env,
                {"http://127.0.0.1:8088/health": f"http://127.0.0.1:{port}/health"},
            ),
            timeout=300,
        )
        target = {"PWR_SUPERSET_URL": f"http://127.0.0.1:{port}"}
        for attempt in (1, 2):
            result = _run_script("superset-import", compose_pg, timeout=600, **target)
            assert result.returncode == 0, f"import {attempt}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    finally:
        services.stop_all()
