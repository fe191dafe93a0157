"""The bot's read-only view of the warehouse: what ``/event``, ``/stats`` and ``/leaderboard`` read.

Writes never go through here (they are records for the writer, with its spool). Reads use their
own connection, read-only twice over: ``PWR_BOT_READER_DATABASE_URL`` should name the read-only
role ``pwr_reader`` (migration 0005: SELECT on pwr_core and pwr_agg, nothing on pwr_raw); when it
is unset the bot reads through its writer URL, and every transaction is opened ``READ ONLY`` so a
bug in a query can still change nothing. The collector's own role ``pwr_bot`` cannot read pwr_core
or pwr_agg (0011), so production sets the reader URL; a failed read becomes one clear reply.
Each command opens a short connection (a few milliseconds on a local server): the bot holds no
idle reader connection, and a database restart costs no reconnect logic. Discord drops an
interaction not answered within 3 seconds, so connecting and each statement are limited to 2
seconds: a database that does not answer in time gives the "could not be read" reply instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from pwr_platform.warehouse.sql_runner import sql_statements

PERIODS = ("week", "month", "all")


class ReaderUnavailable(RuntimeError):
    """The warehouse could not be read; ``str(exc)`` says why in one line."""


@dataclass(frozen=True)
class EventState:
    external_event_id: str
    name: str
    event_type: str | None
    status: str
    scheduled_start_ts: datetime | None
    started_ts: datetime | None
    ended_ts: datetime | None
    channel_ids: tuple[int, ...]


@dataclass(frozen=True)
class MemberStats:
    name: str | None
    recent_seconds: int
    all_time_seconds: int
    rank: int | None
    ranked_members: int
    events_attended: int
    on_time_share: float | None
    trend: str | None


@dataclass(frozen=True)
class Leaderboard:
    period: str
    since: date | None
    voice: list[tuple[str, int]]
    events: list[tuple[str, int]]


def period_start(period: str, today: date) -> date | None:
    """First day of the period: this ISO week's Monday, this month's 1st, None for all time."""
    if period == "week":
        return today - timedelta(days=today.weekday())
    if period == "month":
        return today.replace(day=1)
    if period == "all":
        return None
    raise ValueError(f"unknown period {period!r} (expected one of {', '.join(PERIODS)})")


class BotReader:
    def __init__(self, database_url: str, *, timezone: str = "UTC", read_only_session: bool = True) -> None:
        self.database_url = database_url
        self.tz = ZoneInfo(timezone)
        self.read_only_session = read_only_session

    def today(self, now: datetime | None = None) -> date:
        return (now or datetime.now(self.tz)).astimezone(self.tz).date()

    async def _fetch(self, statement: str, params: dict) -> list[dict]:
        sql = sql_statements("bot_commands")[statement]
        try:
            async with await psycopg.AsyncConnection.connect(
                self.database_url, application_name="pwr-bot-reader", connect_timeout=2, row_factory=dict_row
            ) as conn:
                await conn.set_read_only(self.read_only_session)
                await conn.execute("SET LOCAL statement_timeout = '2s'")
                cur = await conn.execute(sql, params)
                return await cur.fetchall()
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
            raise ReaderUnavailable(
                "the warehouse has no schema yet (an operator runs `pwr db upgrade`)"
            ) from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            raise ReaderUnavailable(
                "the bot's database role may not read the warehouse tables "
                "(set PWR_BOT_READER_DATABASE_URL to the read-only role pwr_reader)"
            ) from exc
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ReaderUnavailable(f"the warehouse could not be read ({first})") from exc

    async def event_states(self, guild_id: int) -> list[EventState]:
        rows = await self._fetch("event_states", {"guild_id": guild_id})
        return [
            EventState(
                r["external_event_id"],
                r["name"],
                r["event_type"],
                r["status"],
                r["scheduled_start_ts"],
                r["started_ts"],
                r["ended_ts"],
                tuple(r["channel_ids"] or ()),
            )
            for r in rows
        ]

    async def member_stats(self, user_id: int, today: date | None = None) -> MemberStats | None:
        rows = await self._fetch("member_stats", {"user_id": user_id, "today": today or self.today()})
        if not rows:
            return None
        r = rows[0]
        share = r["on_time_share"]
        return MemberStats(
            r["name"],
            int(r["recent_seconds"]),
            int(r["all_time_seconds"]),
            r["rank"],
            int(r["ranked_members"]),
            int(r["events_attended"]),
            float(share) if share is not None else None,
            r["trend"],
        )

    async def leaderboard(self, period: str, today: date | None = None) -> Leaderboard:
        today = today or self.today()
        since = period_start(period, today)
        params = {
            "today": today,
            "since": since,
            "since_ts": datetime.combine(since, time(), self.tz) if since else None,
            "until_ts": datetime.combine(today + timedelta(days=1), time(), self.tz),
        }
        voice = await self._fetch("leaderboard_voice", params)
        events = await self._fetch("leaderboard_events", params)
        return Leaderboard(
            period,
            since,
            [(r["name"], int(r["seconds"])) for r in voice],
            [(r["name"], int(r["events"])) for r in events],
        )
