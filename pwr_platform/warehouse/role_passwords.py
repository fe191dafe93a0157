"""Passwords of the warehouse's login roles that migrations create without one.

Migrations are committed code, so they create the restricted roles (``pwr_reader`` for the
dashboards, ``pwr_bot`` for the collector) with no password: a password there would be a default
credential. The password is set here, from the environment, over the migrating (owner) role's
connection; `pwr db upgrade` does it for every role whose variable is set, so in compose the
migrate one-shot brings each role's password in line with docker/.env on every deploy.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from pwr_platform.settings import PwrSettings

BOT_ROLE = "pwr_bot"
READER_ROLE = "pwr_reader"


class MissingRole(RuntimeError):
    """The role's migration has not run on this warehouse."""


def set_role_password(admin_url: str, role: str, password: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            raise MissingRole(f"role {role} does not exist: run `pwr db upgrade` first")
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )


def role_passwords_from_settings(settings: PwrSettings) -> dict[str, str]:
    """Role → password, for each role whose PWR_* variable is set."""
    wanted = {BOT_ROLE: settings.bot_db_password, READER_ROLE: settings.superset_db_password}
    return {role: password.get_secret_value() for role, password in wanted.items() if password}


def apply_role_passwords(admin_url: str, settings: PwrSettings) -> list[str]:
    """Set every role password the environment gives; returns the roles set."""
    passwords = role_passwords_from_settings(settings)
    for role, password in passwords.items():
        set_role_password(admin_url, role, password)
    return sorted(passwords)
