"""The weekly digest: its text from the warehouse, and its one Discord message per week.

The community sees its own figures where it talks (issue 14). The text is computed from the
aggregates (``sql/weekly_digest.sql``) by :func:`weekly_digest`; :func:`publish` posts it through
a Discord webhook (``PWR_DIGEST_WEBHOOK_URL``) at most once per (guild, week, webhook): the
message id is kept in ``pwr_core.digest_messages`` and a later run for the same week edits that
message (``PATCH …/messages/{id}``) when the text changed and does nothing when it did not. The
webhook URL is a secret (it lets anyone post): it is never logged or stored, only its id.

No Dagster here: the ``weekly_digest`` asset and ``pwr digest`` both call these functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import psycopg

from pwr_platform.warehouse.sql_runner import sql_statements

if TYPE_CHECKING:
    import requests

WEBHOOK = re.compile(r"/webhooks/(?P<id>\d+)/(?P<token>[^/?#]+)")
TOP_MEMBERS = 3
NEW_MEMBER_NAMES = 5
DIGEST_LOCK = 1414  # advisory lock class of the digest publisher (issue 14)


class DigestError(RuntimeError):
    """Posting the digest failed; ``str(exc)`` says why without the webhook's token."""


@dataclass(frozen=True)
class Digest:
    week: date
    voice_seconds: int
    previous_voice_seconds: int
    active_members: int
    previous_active_members: int
    top_members: list[tuple[str, int]]
    best_event: tuple[str, datetime, int] | None
    new_members: list[str]

    def text(self, tz: ZoneInfo) -> str:
        year, number, _ = self.week.isocalendar()
        hours, before = self.voice_seconds / 3600, self.previous_voice_seconds / 3600
        change = (
            f"{(hours - before) / before:+.0%} vs {before:.1f} h" if before else "no voice the week before"
        )
        lines = [
            f"**Weekly digest — week of {self.week.isoformat()} ({year}-W{number:02d})**",
            f"Voice: {hours:.1f} h ({change})",
            f"Active members: {self.active_members} (week before: {self.previous_active_members})",
        ]
        if self.top_members:
            lines.append(
                "Top members: "
                + " · ".join(f"{i}. {n} — {s / 3600:.1f} h" for i, (n, s) in enumerate(self.top_members, 1))
            )
        if self.best_event:
            name, start, attendees = self.best_event
            local = start.astimezone(tz)
            lines.append(f"Best event: {name} — {attendees} attendees ({local.strftime('%a %d %b %H:%M')})")
        if self.new_members:
            shown = ", ".join(self.new_members[:NEW_MEMBER_NAMES])
            more = (
                f" and {len(self.new_members) - NEW_MEMBER_NAMES} more"
                if len(self.new_members) > NEW_MEMBER_NAMES
                else ""
            )
            lines.append(f"New members: {len(self.new_members)} ({shown}{more})")
        else:
            lines.append("New members: none")
        return "\n".join(lines)


def week_start(day: date) -> date:
    """Monday of the ISO week containing ``day``."""
    return day - timedelta(days=day.weekday())


def last_finished_week(today: date) -> date:
    return week_start(today) - timedelta(days=7)


def weekly_digest(conn: psycopg.Connection, week: date, tz: ZoneInfo) -> Digest:
    stmts = sql_statements("weekly_digest")
    params = {
        "week": week,
        "week_start_ts": datetime.combine(week, time(), tz),
        "week_end_ts": datetime.combine(week + timedelta(days=7), time(), tz),
    }
    totals = {r[0]: (int(r[1]), int(r[2])) for r in conn.execute(stmts["totals"], params)}
    this, previous = totals.get(week, (0, 0)), totals.get(week - timedelta(days=7), (0, 0))
    top = [(r[0], int(r[1])) for r in conn.execute(stmts["top_members"], params)]
    best = conn.execute(stmts["best_event"], params).fetchone()
    new = [r[0] for r in conn.execute(stmts["new_members"], params)]
    return Digest(
        week,
        this[0],
        previous[0],
        this[1],
        previous[1],
        top,
        (best[0], best[1], int(best[2])) if best else None,
        new,
    )


@dataclass(frozen=True)
class Published:
    action: str  # posted | edited | unchanged
    message_id: str


def _webhook(url: str) -> tuple[str, str]:
    m = WEBHOOK.search(url)
    if not m:
        raise DigestError("PWR_DIGEST_WEBHOOK_URL is not a Discord webhook URL (…/api/webhooks/<id>/<token>)")
    return m.group("id"), m.group("token")


def _call(method: str, url: str, what: str, **kwargs) -> requests.Response:
    # imported here: the code location imports this module in every run worker, and only the
    # digest's own run posts anything (issue 16)
    import requests

    try:
        response = requests.request(method, url, timeout=15, **kwargs)
    except requests.RequestException as exc:
        raise DigestError(f"{what}: Discord could not be reached ({type(exc).__name__})") from None
    return response


def publish(conn: psycopg.Connection, url: str, guild_id: int, week: date, content: str) -> Published:
    """Post ``content`` for ``week`` once; on a later run edit that message (or leave it)."""
    webhook_id, _ = _webhook(url)
    base = url.split("?", 1)[0].rstrip("/")
    # one publisher per week at a time (a run and `pwr digest` at once): the second waits here and
    # then sees the first one's row, so it edits instead of posting again
    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (DIGEST_LOCK, week.toordinal()))
    row = conn.execute(
        "SELECT message_id, content FROM pwr_core.digest_messages "
        "WHERE discord_guild_id = %s AND week_start_date = %s AND webhook_id = %s FOR UPDATE",
        (guild_id, week, webhook_id),
    ).fetchone()
    if row is not None:
        message_id, posted = row
        if posted == content:
            return Published("unchanged", message_id)
        response = _call(
            "PATCH", f"{base}/messages/{message_id}", "editing the digest", json={"content": content}
        )
        if response.status_code == 404:
            raise DigestError(
                f"the digest message {message_id} of week {week} is gone from Discord (deleted?); delete its row "
                "from pwr_core.digest_messages to post it anew"
            )
        if not response.ok:
            raise DigestError(
                f"editing the digest: Discord answered {response.status_code}: {response.text[:200]}"
            )
        conn.execute(
            "UPDATE pwr_core.digest_messages SET content = %s, edited_at = now() "
            "WHERE discord_guild_id = %s AND week_start_date = %s AND webhook_id = %s",
            (content, guild_id, week, webhook_id),
        )
        return Published("edited", message_id)
    response = _call("POST", base, "posting the digest", params={"wait": "true"}, json={"content": content})
    if not response.ok:
        raise DigestError(
            f"posting the digest: Discord answered {response.status_code}: {response.text[:200]}"
        )
    message_id = str(response.json()["id"])
    conn.execute(
        "INSERT INTO pwr_core.digest_messages (discord_guild_id, week_start_date, webhook_id, message_id, content) "
        "VALUES (%s, %s, %s, %s, %s)",
        (guild_id, week, webhook_id, message_id, content),
    )
    return Published("posted", message_id)
