"""Typed configuration, read once from ``PWR_*`` environment variables.

Every part of the platform (CLI, Dagster code location, tests, the bot) reads its configuration
through :func:`get_settings`, so one variable means the same thing everywhere. The README's
configuration table is the user-facing copy of this class.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    """``.pwr/`` beside the checkout: local state (database files, Dagster home, spool, logs)."""
    return Path(__file__).resolve().parent.parent / ".pwr"


class PwrSettings(BaseSettings):
    """All ``PWR_*`` settings. Defaults suit a laptop; production sets them in its env file."""

    model_config = SettingsConfigDict(env_prefix="PWR_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Local state directory.")
    database_url: str | None = Field(
        default=None,
        description="Warehouse PostgreSQL URL. Unset: the embedded server under PWR_HOME is used.",
    )
    dagster_database_url: str | None = Field(
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
    on_time_grace_minutes: int = Field(default=10, ge=0, description="Grace after scheduled start.")
    late_days: int = Field(default=3, ge=1, description="Daily partitions re-run each night for late events.")
    guild_id: int | None = Field(default=None, description="The Discord guild the collector watches.")
    discord_token: str | None = Field(default=None, description="Collector bot token (secret).")
    dagster_port: int = Field(default=3000, description="Dagster webserver port (127.0.0.1).")

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
    def spool_dir(self) -> Path:
        return self.home / "spool"


@lru_cache(maxsize=1)
def get_settings() -> PwrSettings:
    return PwrSettings()
