"""Typed configuration, read once from ``PWR_*`` environment variables.

Every part of the platform (CLI, Dagster code location, tests, the bot) reads its configuration
through :func:`get_settings`, so one variable means the same thing everywhere. The README's
configuration table is the user-facing copy of this class.

Passwords, tokens and URLs that may carry a password are ``SecretStr``: a settings object printed,
logged or shown in a traceback says ``**********``, and the plain value is taken with
``.get_secret_value()`` only where it is handed to the thing that needs it.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pwr_platform.paths import REPO_ROOT


def _default_home() -> Path:
    """``.pwr/`` beside the checkout: local state (database files, Dagster home, spool, logs)."""
    return REPO_ROOT / ".pwr"


class PwrSettings(BaseSettings):
    """All ``PWR_*`` settings. Defaults suit a laptop; production sets them in its env file."""

    model_config = SettingsConfigDict(env_prefix="PWR_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Local state directory.")
    database_url: SecretStr | None = Field(
        default=None,
        description="Warehouse PostgreSQL URL. Unset: the embedded server under PWR_HOME is used.",
    )
    dagster_database_url: SecretStr | None = Field(
        default=None,
        description="Dagster run/event/schedule storage URL. Unset: database 'dagster' on the warehouse server.",
    )
    db_port: int = Field(default=54329, description="Port of the embedded PostgreSQL server (127.0.0.1).")
    timezone: str = Field(default="UTC", description="Reporting time zone for days, weeks, months.")
    max_session_hours: int = Field(default=12, gt=0, description="Cap on one voice session.")
    collector_gap_minutes: int = Field(
        default=3,
        gt=0,
        description="Consecutive collector heartbeats further apart than this mean the collector was down.",
    )
    rebuild_connections: int = Field(
        default=2,
        ge=1,
        description="Connections a full rebuild of the voice sessions builds slices in at once "
        "(about the database server's cores).",
    )
    on_time_grace_minutes: int = Field(default=10, ge=0, description="Grace after scheduled start.")
    late_days: int = Field(default=3, ge=1, description="Daily partitions re-run each night for late events.")
    partitions_start: date = Field(
        default=date(2024, 1, 1),
        description="First day of the daily / weekly / monthly partitions (a Monday and a 1st suit all three).",
    )
    guild_id: int | None = Field(default=None, description="The Discord guild the collector watches.")
    discord_token: SecretStr | None = Field(default=None, description="Collector bot token (secret).")
    dagster_port: int = Field(default=3000, description="Dagster webserver port (127.0.0.1).")
    code_server_port: int = Field(
        default=4000,
        description="Dagster code server port (gRPC, 127.0.0.1): the one process that loads the code "
        "location for the webserver and the daemon and launches their runs.",
    )
    superset_port: int = Field(default=8088, description="Superset port (gunicorn on 127.0.0.1).")
    superset_workers: int = Field(default=2, ge=1, description="Superset gunicorn worker processes.")
    superset_admin_user: str = Field(default="pwr_admin", description="Superset admin login name.")
    superset_admin_password: SecretStr | None = Field(
        default=None, description="Superset admin password (secret). Unset: generated into PWR_HOME/secrets."
    )
    superset_db_password: SecretStr | None = Field(
        default=None,
        description="Password of the read-only warehouse role pwr_reader (secret). Unset: generated.",
    )
    bot_db_password: SecretStr | None = Field(
        default=None,
        description="Password of the collector's warehouse role pwr_bot (secret); `pwr db upgrade` sets it. "
        "Unset: the role keeps its password (none after migration 0011: it cannot log in).",
    )
    superset_metadata_url: SecretStr | None = Field(
        default=None, description="Superset's metadata database URL. Unset: SQLite under PWR_HOME/superset."
    )
    superset_url: str | None = Field(
        default=None,
        description="Where `pwr superset import/export` reach Superset. Unset: http://127.0.0.1:PWR_SUPERSET_PORT.",
    )
    bot_include_bots: bool = Field(default=False, description="Record voice activity of bot accounts too.")
    bot_members_intent: bool = Field(
        default=False,
        description="Use the privileged members intent: member joins, leaves, name changes, member sync.",
    )
    organizer_role_id: int | None = Field(
        default=None,
        description="Discord role whose members may run /event (besides those with Manage Events).",
    )
    bot_reader_database_url: SecretStr | None = Field(
        default=None,
        description="Read-only URL the bot's /event, /stats and /leaderboard read through (role pwr_reader). "
        "Unset: PWR_DATABASE_URL with read-only transactions.",
    )
    digest_webhook_url: SecretStr | None = Field(
        default=None,
        description="Discord webhook the weekly digest is posted to (secret). Unset: the digest is only "
        "recorded in the asset's metadata.",
    )
    bot_queue_max: int = Field(
        default=10_000,
        ge=1,
        description="Records the bot's writer queue holds; beyond it they overflow to the spool.",
    )
    bot_give_up_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A writer error other than an unreachable database (read-only, permission, spool full) "
        "persisting this long makes `pwr bot` exit with status 3, so its supervisor restarts it.",
    )
    bot_stop_drain_seconds: float = Field(
        default=10.0,
        ge=0,
        description="On SIGTERM, how long `pwr bot` tries to empty the spool into PostgreSQL.",
    )
    bot_health_max_lag_seconds: float = Field(
        default=120.0,
        gt=0,
        description="`pwr bot --health`: the oldest record of the last batch may be this old.",
    )
    bot_health_max_commit_age_seconds: float = Field(
        default=600.0,
        gt=0,
        description="`pwr bot --health`: the writer's last commit may be this old (heartbeats commit every minute).",
    )
    writer_statement_timeout_seconds: float = Field(
        default=30.0, ge=0, description="statement_timeout of the collector's writer connections (0: off)."
    )
    writer_lock_timeout_seconds: float = Field(
        default=10.0, ge=0, description="lock_timeout of the collector's writer connections (0: off)."
    )
    writer_tcp_user_timeout_seconds: float = Field(
        default=30.0, ge=0, description="tcp_user_timeout of the writer's connections: a silent peer is dead."
    )
    discord_api_url: str | None = Field(
        default=None,
        description="Base URL of Discord's REST API (tests: a local gateway). Unset: https://discord.com/api/v10.",
    )
    discord_gateway_url: str | None = Field(
        default=None, description="Discord gateway websocket URL (tests: a local gateway). Unset: Discord's."
    )
    dota_league_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="OpenDota league ids whose matches `pwr dota refresh` fetches (comma separated). "
        "Unset: none (saved API responses can still be loaded with `pwr dota import`).",
    )
    opendota_api_key: SecretStr | None = Field(
        default=None, description="OpenDota API key (secret). Unset: the free tier (60 requests a minute)."
    )
    opendota_url: str = Field(
        default="https://api.opendota.com/api",
        description="Base URL of the OpenDota API (tests: a local server).",
    )
    opendota_requests_per_minute: int = Field(
        default=60,
        ge=1,
        description="Requests a minute the OpenDota client allows itself (the free tier's limit).",
    )

    @field_validator("dota_league_ids", mode="before")
    @classmethod
    def _comma_separated_ids(cls, value):
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            bad = [part for part in parts if not part.isdecimal()]
            if bad:
                raise ValueError(
                    f"PWR_DOTA_LEAGUE_IDS: {bad[0]!r} is not a league id (comma-separated numbers)"
                )
            return [int(part) for part in parts]
        return value

    @field_validator(
        "organizer_role_id",
        "bot_reader_database_url",
        "digest_webhook_url",
        "opendota_api_key",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value):
        # compose passes optional variables as empty strings (${VAR:-})
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("home")
    @classmethod
    def _home_is_a_directory(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(
                f"PWR_HOME={str(value)!r} is a file; it must be a directory (created if missing)"
            )
        return value

    @field_validator("database_url", "dagster_database_url", "bot_reader_database_url")
    @classmethod
    def _postgresql_url(cls, value: SecretStr | None, info) -> SecretStr | None:
        # Checked here, once, so a mistyped URL is one clear message naming the variable instead
        # of a parser's traceback deep in psycopg, SQLAlchemy or Alembic. The value is a secret
        # (it may hold a password): the message never repeats it.
        text = value.get_secret_value().strip() if value is not None else ""
        if info.field_name == "bot_reader_database_url" and text and "://" not in text:
            # the bot reads through psycopg alone, which also takes libpq's "key=value" form
            from psycopg.conninfo import conninfo_to_dict

            try:
                conninfo_to_dict(text)
            except Exception:  # noqa: BLE001 - psycopg's reason may quote the secret itself
                raise ValueError(
                    "PWR_BOT_READER_DATABASE_URL is neither a PostgreSQL URL nor a libpq connection "
                    "string (write postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
                ) from None
            return value
        scheme, sep, rest = text.partition("://")
        if text and (not sep or scheme.split("+")[0] not in ("postgresql", "postgres") or not rest):
            raise ValueError(
                f"PWR_{info.field_name.upper()} is not a PostgreSQL URL "
                "(write postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"PWR_TIMEZONE={value!r} is not an IANA time zone name") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def superset_home(self) -> Path:
        return self.home / "superset"

    @property
    def spool_dir(self) -> Path:
        return self.home / "spool"

    @property
    def opendota_cache_dir(self) -> Path:
        """OpenDota responses already fetched (a match document never changes: fetched once)."""
        return self.home / "opendota_cache"


def secret_value(secret: SecretStr | None) -> str | None:
    """The plain value of an optional secret (None and empty both mean unset)."""
    return secret.get_secret_value() or None if secret is not None else None


@lru_cache(maxsize=1)
def get_settings() -> PwrSettings:
    return PwrSettings()
