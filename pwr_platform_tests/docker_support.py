"""Reading docker/ the way Docker Compose and Caddy do, for tests on a machine without an engine.

Compose interpolates ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
``${VAR?error}`` and ``$VAR`` in the YAML text before parsing it (``$$`` is a literal ``$``);
Caddy substitutes ``{$VAR}`` and ``{$VAR:default}`` in the Caddyfile. The helpers here apply the
same rules so tests can check which variables exist, which have defaults, and what a service's
command line becomes with a given environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from pwr_platform_tests.conftest import REPO_ROOT

DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
ENV_EXAMPLE = DOCKER_DIR / ".env.example"
CADDYFILE = DOCKER_DIR / "Caddyfile"
BIN_DIR = DOCKER_DIR / "bin"

# ${NAME}, ${NAME:-x}, ${NAME-x}, ${NAME:?x}, ${NAME?x}, ${NAME:+x}, $NAME; $$ escapes.
_COMPOSE_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_CADDY_VAR = re.compile(r"\{\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<default>[^}]*))?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_HASH$|_KEY$")


@dataclass(frozen=True)
class VarUse:
    name: str
    op: str | None  # None (plain), ":-", "-", ":?", "?", ":+", "+"
    arg: str | None


def compose_text() -> str:
    return COMPOSE_FILE.read_text()


def compose_var_uses(text: str | None = None) -> list[VarUse]:
    text = compose_text() if text is None else text
    uses = []
    for m in _COMPOSE_VAR.finditer(text):
        if m.group("escaped"):
            continue
        name = m.group("braced") or m.group("bare")
        uses.append(VarUse(name, m.group("op"), m.group("arg")))
    return uses


class MissingVariable(KeyError):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of ``text`` with ``env`` (raises MissingVariable like ``:?`` does)."""

    def replace(m: re.Match) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("bare")
        op, arg = m.group("op"), m.group("arg") or ""
        value = env.get(name)
        if op in (":-", "-"):
            unset = value is None or (op == ":-" and value == "")
            return arg if unset else value
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op in (":+", "+"):
            return arg if value else ""
        return value or ""

    return _COMPOSE_VAR.sub(replace, text)


def load_compose(env: dict[str, str] | None = None) -> dict:
    """compose.yaml as Compose sees it: raw (``env`` None: variables left as written) or interpolated."""
    text = compose_text()
    if env is not None:
        text = interpolate(text, env)
    return yaml.safe_load(text)


def env_example() -> dict[str, str]:
    """Variables listed in .env.example (``NAME=value`` or commented ``# NAME=value``) → value."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            found[m.group(1)] = m.group(2).strip()
    return found


def caddy_var_uses() -> list[tuple[str, str | None]]:
    return [(m.group("name"), m.group("default")) for m in _CADDY_VAR.finditer(CADDYFILE.read_text())]


def container_script(path: str) -> Path:
    """The repository file behind an in-image path such as /opt/pwr/docker/bin/pwr-migrate."""
    m = re.match(r"^/opt/(?:pwr|superset)/(docker/bin/[^/]+)$", path)
    if not m:
        raise ValueError(f"{path} is not a docker/bin script path")
    return REPO_ROOT / m.group(1)


def postgres_settings(compose: dict) -> dict[str, str]:
    """The ``-c name=value`` settings of the postgres service's command."""
    command = compose["services"]["postgres"]["command"]
    assert command[0] == "postgres"
    settings = {}
    for flag, value in zip(command[1::2], command[2::2], strict=True):
        assert flag == "-c", command
        name, _, setting = value.partition("=")
        settings[name] = setting
    return settings


def sample_env(**overrides: str) -> dict[str, str]:
    """A complete, valid set of test values for every variable .env.example lists."""
    values = {
        "PWR_DAGSTER_DOMAIN": "dagster.localhost",
        "PWR_SUPERSET_DOMAIN": "superset.localhost",
        "PWR_TLS": "internal",
        "PWR_DAGSTER_UI_USER": "ops",
        # `caddy hash-password --plaintext test-password`
        "PWR_DAGSTER_UI_PASSWORD_HASH": "$2a$14$Bmfc.sMp6oHL0qP1KQPfkO/kJG2053Ef/.EBXR7otTeXAn6ckqK2q",
        "POSTGRES_PASSWORD": "0" * 64,
        "PWR_DB_PASSWORD": "1" * 64,
        "PWR_DAGSTER_DB_PASSWORD": "2" * 64,
        "PWR_SUPERSET_METADATA_DB_PASSWORD": "3" * 64,
        "PWR_SUPERSET_DB_PASSWORD": "4" * 64,
        "PWR_BOT_DB_PASSWORD": "7" * 64,
        "SUPERSET_SECRET_KEY": "5" * 56,
        "PWR_SUPERSET_ADMIN_USER": "admin-test",
        "PWR_SUPERSET_ADMIN_PASSWORD": "6" * 32,
        "PWR_DISCORD_TOKEN": "test-token",
        "PWR_GUILD_ID": "811111111111111111",
    }
    values.update(overrides)
    return values
