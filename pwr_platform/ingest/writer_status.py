"""The bot writer's health, kept in a small JSON file that ``pwr bot --health`` judges.

A health check runs as a separate process (compose ``healthcheck``), and "the process is alive"
says nothing about whether records are being kept: a collector connected to Discord while its
writer commits nothing is the failure that matters. So the writer loop rewrites this file every
time it goes round (at least every couple of seconds), and the check reads what the writer last
did: when it last committed, how old the oldest record it handled was (lag), how many records
it holds in memory that neither PostgreSQL nor the spool has taken, and what is failing.

``python -m pwr_platform.ingest.writer_status`` is the check itself (``docker/bin/healthcheck-bot``,
``pwr bot --health``): it imports nothing heavy, so it answers in well under a second.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


class StatusUnreadable(RuntimeError):
    """No status file, or one that cannot be read: no writer is running (or it never started)."""


@dataclass
class WriterStatus:
    pid: int
    updated_at: datetime
    started_at: datetime
    last_commit_at: datetime | None
    lag_seconds: float
    queued: int
    held: int
    spooled_pending: int
    failure: str | None = None
    failing_for_seconds: float | None = None

    def to_json(self) -> str:
        body = asdict(self)
        for key in ("updated_at", "started_at", "last_commit_at"):
            body[key] = body[key].isoformat() if body[key] else None
        return json.dumps(body, indent=1)

    @classmethod
    def from_json(cls, text: str) -> WriterStatus:
        body = json.loads(text)
        for key in ("updated_at", "started_at", "last_commit_at"):
            body[key] = datetime.fromisoformat(body[key]) if body[key] else None
        return cls(**body)


def write_status(path: Path, status: WriterStatus) -> None:
    """Replace the file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(status.to_json())
    os.replace(tmp, path)


def read_status(path: Path) -> WriterStatus:
    try:
        return WriterStatus.from_json(path.read_text())
    except FileNotFoundError:
        raise StatusUnreadable(f"{path} does not exist: no collector writer has run here") from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise StatusUnreadable(f"{path} is unreadable: {exc}") from None


@dataclass(frozen=True)
class HealthLimits:
    """How stale the file, how late the records, how old the last commit may be (seconds)."""

    max_status_age: float = 60.0
    max_lag: float = 120.0
    max_commit_age: float = 600.0


def health_problems(status: WriterStatus, limits: HealthLimits, now: datetime | None = None) -> list[str]:
    """Why the writer is unhealthy; an empty list when it is healthy."""
    now = now or datetime.now(UTC)
    problems = []
    age = (now - status.updated_at).total_seconds()
    if age > limits.max_status_age:
        problems.append(f"the writer loop last reported {age:.0f}s ago (limit {limits.max_status_age:.0f}s)")
    if status.lag_seconds > limits.max_lag:
        problems.append(f"writer lag {status.lag_seconds:.0f}s (limit {limits.max_lag:.0f}s)")
    if status.held:
        problems.append(f"{status.held} records held in memory: neither PostgreSQL nor the spool takes them")
    since = status.last_commit_at or status.started_at
    commit_age = (now - since).total_seconds()
    if commit_age > limits.max_commit_age:
        what = "last commit" if status.last_commit_at else "no commit since the start"
        problems.append(
            f"{what} {commit_age:.0f}s ago (limit {limits.max_commit_age:.0f}s)"
            + (f": {status.failure}" if status.failure else "")
        )
    return problems


def status_path(home: Path) -> Path:
    return home / "run" / "bot-writer.json"


def check(settings) -> tuple[bool, str]:
    """(healthy, one line saying why) for the collector writer of ``settings.home``."""
    try:
        status = read_status(status_path(settings.home))
    except StatusUnreadable as exc:
        return False, f"unhealthy: {exc}"
    limits = HealthLimits(
        max_lag=settings.bot_health_max_lag_seconds, max_commit_age=settings.bot_health_max_commit_age_seconds
    )
    problems = health_problems(status, limits)
    summary = (
        f"pid {status.pid}, last commit {status.last_commit_at or 'never'}, lag {status.lag_seconds}s, "
        f"queue {status.queued}, spooled {status.spooled_pending}"
    )
    if problems:
        return False, f"unhealthy ({summary}): " + "; ".join(problems)
    return True, f"healthy ({summary})"


def main() -> int:
    from pwr_platform.settings import get_settings

    healthy, message = check(get_settings())
    print(message, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
