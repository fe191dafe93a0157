"""docker/compose.yaml, the Dockerfiles and .env.example, checked as Compose and Docker would read them.

There is no Docker engine here, so these tests parse the files: start order by health checks and
dependency conditions, nothing published but the proxy, no secret written into any file, every
variable documented with no usable default password, and base images pinned to full versions.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pwr_platform_tests.conftest import REPO_ROOT
from pwr_platform_tests.docker_support import (
    BIN_DIR,
    CADDYFILE,
    DOCKER_DIR,
    SECRET_NAME,
    MissingVariable,
    caddy_var_uses,
    compose_text,
    compose_var_uses,
    container_script,
    env_example,
    load_compose,
    sample_env,
)

ONE_SHOTS = {"migrate", "superset-init", "superset-import"}
PROXY = "proxy"
DOCKERFILES = [DOCKER_DIR / "platform.Dockerfile", DOCKER_DIR / "superset.Dockerfile"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose(sample_env())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def _depends(service: dict) -> dict[str, dict]:
    deps = service.get("depends_on", {})
    assert isinstance(deps, dict), "depends_on must be the long form, with a condition per dependency"
    return deps


# --------------------------------------------------------------------------- start order
def test_every_service_has_a_health_check_or_dependency_conditions(services: dict) -> None:
    for name, service in services.items():
        deps = _depends(service)
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert spec.get("condition") in {
                "service_healthy",
                "service_completed_successfully",
            }, f"{name} → {dep}: a bare service_started does not wait for anything"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], (
                    f"{name} waits for {dep} to be healthy, it has no check"
                )
        assert "healthcheck" in service or deps, (
            f"{name} has neither a health check nor a dependency condition"
        )


def _ancestors(services: dict, name: str) -> set[str]:
    seen: set[str] = set()
    stack = [name]
    while stack:
        for dep in _depends(services[stack.pop()]):
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def test_one_shots_run_to_completion_before_the_long_running_services(services: dict) -> None:
    for name in ONE_SHOTS:
        assert services[name].get("restart") == "no", f"{name} is a one-shot: it must not restart"
        waiting = [s for s, spec in services.items() if _depends(spec).get(name)]
        assert waiting, f"nothing waits for {name}"
        for other in waiting:
            assert _depends(services[other])[name]["condition"] == "service_completed_successfully"
    long_running = set(services) - ONE_SHOTS - {"postgres"}
    for name in long_running - {"superset"}:
        if name == PROXY:
            continue
        assert "migrate" in _ancestors(services, name), f"{name} may start before the schema is migrated"
    assert {"superset-init", "migrate"} <= _ancestors(services, "superset")
    assert {"superset-import", "dagster-webserver", "superset"} <= _ancestors(services, PROXY)
    # the postgres health check must name a database that exists once initdb has run
    assert "pwr" in services["postgres"]["healthcheck"]["test"]


def test_only_the_proxy_publishes_ports(services: dict, compose: dict) -> None:
    for name, service in services.items():
        assert service.get("network_mode") != "host", f"{name} uses the host network"
        if name != PROXY:
            assert "ports" not in service, f"{name} publishes ports; only the proxy may"
    assert sorted(services[PROXY]["ports"]) == ["443:443", "443:443/udp", "80:80"]


# --------------------------------------------------------------------------- network isolation
DAGSTER_SERVICES = {"dagster-webserver", "dagster-daemon", "dagster-code-server"}
SUPERSET_SIDE = {"superset", "superset-init", "superset-import"}


def _reachable(services: dict, name: str) -> set[str]:
    """Services ``name`` can open a connection to: those sharing one of its networks (containers
    never route between networks, so a service on two networks joins nothing)."""
    mine = set(services[name]["networks"])
    return {other for other, spec in services.items() if other != name and mine & set(spec["networks"])}


def test_bot_and_superset_cannot_reach_the_dagster_webserver_or_code_server(services: dict) -> None:
    for name in {"bot", *SUPERSET_SIDE}:
        reachable = _reachable(services, name)
        assert not reachable & DAGSTER_SERVICES, f"{name} can reach {sorted(reachable & DAGSTER_SERVICES)}"
    assert _reachable(services, "bot") == {"postgres"}, "the bot needs PostgreSQL and nothing else"
    # the proxy reaches the two UIs only: not the code server, the daemon or the database
    assert _reachable(services, PROXY) == {"dagster-webserver", "superset", "superset-import"}
    # the code server answers the webserver and the daemon (and reaches PostgreSQL), nobody else
    assert _reachable(services, "dagster-code-server") == {
        "dagster-webserver",
        "dagster-daemon",
        "migrate",
        "postgres",
    }


def test_every_service_reaches_what_its_urls_name(services: dict) -> None:
    """A network split must not cut a service off from a host its configuration names."""
    for name, service in services.items():
        env = " ".join(str(v) for v in (service.get("environment") or {}).values())
        hosts = set(re.findall(r"@([a-z][a-z0-9-]*):\d+/", env))  # database URLs
        hosts |= set(re.findall(r"https?://([a-z][a-z0-9-]*):", env))  # HTTP services
        code_server = (service.get("environment") or {}).get("PWR_CODE_SERVER_HOST")
        hosts |= {code_server} if code_server else set()
        assert hosts <= _reachable(services, name), (
            f"{name} names {sorted(hosts - _reachable(services, name))}"
        )
    assert {"dagster-webserver", "superset"} <= _reachable(services, PROXY)  # the Caddyfile's upstreams


def test_only_the_bot_and_the_proxy_reach_the_internet(services: dict, compose: dict) -> None:
    networks = compose["networks"]
    egress = {net for net, spec in networks.items() if not (spec or {}).get("internal")}
    assert egress == {"bot_egress", "proxy_egress"}, "every other network must be internal: true"
    on_egress = {
        name: set(s["networks"]) & egress for name, s in services.items() if set(s["networks"]) & egress
    }
    assert on_egress == {"bot": {"bot_egress"}, PROXY: {"proxy_egress"}}
    used = {net for s in services.values() for net in s["networks"]}
    assert used == set(networks), "every declared network is used, every used one declared"


def test_bot_connects_as_its_least_privilege_role(services: dict) -> None:
    bot_url = services["bot"]["environment"]["PWR_DATABASE_URL"]
    assert bot_url == f"postgresql://pwr_bot:{sample_env()['PWR_BOT_DB_PASSWORD']}@postgres:5432/pwr"
    # the migrate one-shot is what sets that role's password from the same variable
    assert (
        str(services["migrate"]["environment"]["PWR_BOT_DB_PASSWORD"]) == sample_env()["PWR_BOT_DB_PASSWORD"]
    )
    owner = sample_env()["PWR_DB_PASSWORD"]
    assert owner not in str(services["bot"]["environment"]), "the bot must not hold the owner's password"


# --------------------------------------------------------------------------- secrets
_URL_CREDENTIALS = re.compile(r"://(?P<user>[^:/@\s]+):(?P<password>[^@\s]+)@")


def test_no_literal_secret_in_compose() -> None:
    raw = load_compose()  # not interpolated: what is written in the file
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), (
                    f"{name}.{key} must come from a required variable, not {value!r}"
                )
            for m in _URL_CREDENTIALS.finditer(value):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", m.group("password")), (
                    f"{name}.{key}: the password in the URL must be a required variable"
                )
    # also anything not in an environment block (anchors, commands)
    for m in _URL_CREDENTIALS.finditer(compose_text()):
        assert m.group("password").startswith("${"), f"literal password in compose.yaml: {m.group(0)}"


def test_secret_variables_have_no_default_anywhere() -> None:
    uses = compose_var_uses()
    secret_names = {u.name for u in uses if SECRET_NAME.search(u.name)}
    assert {
        "POSTGRES_PASSWORD",
        "PWR_DB_PASSWORD",
        "PWR_BOT_DB_PASSWORD",
        "SUPERSET_SECRET_KEY",
        "PWR_DISCORD_TOKEN",
    } <= secret_names
    for use in uses:
        if use.name in secret_names:
            assert use.op == ":?", f"${{{use.name}}} must be ${{{use.name}:?…}}: required, never defaulted"
    example = env_example()
    for name in secret_names:
        assert example[name] in ("", "''"), f".env.example gives {name} a value: {example[name]!r}"
    # compose refuses to render without them
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        load_compose(sample_env(POSTGRES_PASSWORD=""))


def test_every_variable_is_listed_in_env_example() -> None:
    listed = set(env_example())
    used = {u.name for u in compose_var_uses()}
    assert used - listed == set(), f"used in compose.yaml, missing from .env.example: {sorted(used - listed)}"
    assert listed - used == set(), f"listed in .env.example, used nowhere: {sorted(listed - used)}"


def test_caddyfile_variables_reach_the_proxy(services: dict) -> None:
    proxy_env = set(services[PROXY]["environment"])
    for name, default in caddy_var_uses():
        assert name in proxy_env or default is not None, (
            f"Caddyfile reads {{${name}}}, the proxy is not given it"
        )
    text = CADDYFILE.read_text()
    assert "$2a$" not in text and "password" not in text.split("basicauth", 1)[1].split("}", 1)[0].lower()


def test_no_secret_is_baked_into_an_image() -> None:
    for dockerfile in DOCKERFILES:
        for line in dockerfile.read_text().splitlines():
            m = re.match(r"^\s*(ENV|ARG)\s+(.*)$", line)
            if m:
                assert not SECRET_NAME.search(m.group(2)), f"{dockerfile.name}: {line}"
            assert ".env" not in line.split("#")[0] or ".env.example" in line, f"{dockerfile.name}: {line}"
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    for path in (".pwr", ".venv", ".venv-superset", "docker/.env", ".git"):
        assert path in ignored, f".dockerignore must keep {path} out of the build context"
    assert "docker/.env" in (REPO_ROOT / ".gitignore").read_text().split()


# --------------------------------------------------------------------------- images
def _stages(dockerfile: Path) -> list[tuple[str, list[str]]]:
    stages: list[tuple[str, list[str]]] = []
    for line in dockerfile.read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.upper().startswith("FROM "):
            stages.append((line.split()[1], []))
        elif stages and line and not line.startswith("#"):
            stages[-1][1].append(line)
    return stages


PINNED = {
    "python": r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?",
    "postgres": r"postgres:16\.\d+-bookworm(@sha256:[0-9a-f]{64})?",
    "caddy": r"caddy:2\.\d+\.\d+-alpine(@sha256:[0-9a-f]{64})?",
}


def test_images_pin_their_base_versions(services: dict) -> None:
    assert re.fullmatch(PINNED["postgres"], services["postgres"]["image"])
    assert re.fullmatch(PINNED["caddy"], services[PROXY]["image"])
    for name, service in services.items():
        if "build" in service:
            dockerfile = REPO_ROOT / "docker" / Path(service["build"]["dockerfile"]).name
            assert service["build"]["context"] == ".." and dockerfile in DOCKERFILES, name
            for base, _ in _stages(dockerfile):
                assert re.fullmatch(PINNED["python"], base), f"{dockerfile.name}: FROM {base}"
        else:
            assert name in {"postgres", PROXY}, f"{name} uses a prebuilt image"


def test_dockerfiles_are_multi_stage_non_root_and_install_from_the_locks() -> None:
    make_uv = re.search(r"^UV_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M).group(1)
    for dockerfile in DOCKERFILES:
        stages = _stages(dockerfile)
        assert len(stages) >= 2, f"{dockerfile.name} is not multi-stage"
        build, runtime = stages[0][1], stages[-1][1]
        assert any(f'"uv=={make_uv}"' in line for line in build), (
            f"{dockerfile.name}: uv is not the Makefile's"
        )
        users = [line.split()[1] for line in runtime if line.startswith("USER ")]
        assert users and users[-1] not in {"root", "0"}, (
            f"{dockerfile.name}: runtime must run as a non-root user"
        )
        assert any(line.startswith("COPY --from=") for line in runtime)
        assert not any(re.search(r"\b(pip|uv) (install|sync|pip)", line) for line in runtime), (
            f"{dockerfile.name}: the runtime stage must not resolve or install anything"
        )
    platform = " ".join(_stages(DOCKERFILES[0])[0][1])
    assert "uv sync --locked --no-dev" in platform and "COPY pyproject.toml uv.lock" in platform
    superset = " ".join(_stages(DOCKERFILES[1])[0][1])
    assert "uv pip sync --require-hashes /tmp/requirements.lock" in superset
    assert "COPY superset/requirements.lock" in superset


def test_platform_image_copies_only_what_exists() -> None:
    for _, lines in _stages(DOCKERFILES[0]):
        for line in lines:
            if line.startswith("COPY ") and "--from=" not in line:
                for source in line.split()[1:-1]:
                    assert (REPO_ROOT / source).exists(), f"platform.Dockerfile copies missing {source}"


def test_every_command_is_an_executable_script_in_docker_bin(services: dict) -> None:
    for name, service in services.items():
        if name in {"postgres", PROXY}:
            continue
        command = service["command"]
        script = container_script(command[0])
        assert script.exists() and os.access(script, os.X_OK), f"{name}: {script} missing or not executable"
        check = service.get("healthcheck", {}).get("test", [])
        if check and check[1].startswith("/opt/"):
            assert os.access(container_script(check[1]), os.X_OK)
        image_root = (
            "/opt/superset/" if "superset.Dockerfile" in service["build"]["dockerfile"] else "/opt/pwr/"
        )
        assert command[0].startswith(image_root), f"{name}: {command[0]} is not in its image"
    for script in BIN_DIR.iterdir():
        first = script.read_text().splitlines()[0]
        assert first == "#!/bin/sh", f"{script.name}: POSIX sh (the images have no bash guarantees)"


def test_superset_config_path_matches_the_image() -> None:
    text = DOCKERFILES[1].read_text()
    assert "COPY superset /opt/superset/superset" in text
    assert "SUPERSET_CONFIG_PATH=/opt/superset/superset/superset_config.py" in text
