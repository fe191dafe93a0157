"""``/stats`` and ``/leaderboard``: the answers equal the figures computed here from the same rows.

The warehouse is seeded with known aggregate rows (daily voice, weekly engagement, completed
events with attendance, trend labels); the expected answers are computed in Python from those
rows, independently of ``sql/bot_commands.sql``. The reads go through the read-only role
``pwr_reader`` as in production, and once through the real ``pwr bot`` behind the local gateway.
"""

from __future__ import annotations

import asyncio
import random
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pwr_platform.ingest.bot.commands import leaderboard_text, stats_text
from pwr_platform.ingest.bot.reader import (
    BotReader,
    Leaderboard,
    MemberStats,
    ReaderUnavailable,
    period_start,
)
from pwr_platform_tests.discord_gateway import guild, local_discord, member, option
from pwr_platform_tests.test_collector_fault_drills import BotProcess
from pwr_platform_tests.test_writer import GUILD

TODAY = date(2026, 11, 18)  # a Wednesday
USERS = {11: "ada", 12: "bea", 13: "cy", 14: "dan", 15: "eve", 16: "fay"}
TRENDS = {11: "rising", 12: "steady", 13: "falling"}


def seed(conn: psycopg.Connection, today: date, rng_seed: int = 7) -> dict:
    """Members, 70 days of daily voice (weekly rows their sums), 6 completed events with
    attendance, trend labels. Returns the rows, for the expected answers."""
    rng = random.Random(rng_seed)
    ids = {}
    for uid, name in USERS.items():
        ids[uid] = conn.execute(
            "INSERT INTO pwr_core.members (discord_user_id, first_seen_ts, display_name, username) "
            "VALUES (%s, %s, %s, %s) RETURNING member_id",
            (uid, datetime(2026, 1, 1, tzinfo=UTC), name.title(), name),
        ).fetchone()[0]
    daily = {}
    for uid in USERS:
        if uid == 16:
            continue  # fay: a member with no voice at all
        for d in range(70):
            day = today - timedelta(days=d)
            if rng.random() < 0.5:
                daily[(day, uid)] = rng.choice([600, 1800, 3600, 5400, 7200])
    # a tie in the last 4 weeks, for rank()
    recent = {
        u: sum(s for (d, v), s in daily.items() if v == u and d > today - timedelta(days=28)) for u in USERS
    }
    top = max(recent, key=recent.get)
    other = next(u for u in (12, 13) if u != top)
    shift = recent[top] - recent[other]
    day = today - timedelta(days=1)
    daily[(day, other)] = daily.get((day, other), 0) + shift
    conn.cursor().executemany(
        "INSERT INTO pwr_agg.member_voice_daily (activity_date, member_id, total_sessions, total_voice_seconds) "
        "VALUES (%s, %s, 1, %s)",
        [(d, ids[u], s) for (d, u), s in daily.items()],
    )
    events = []
    for n in range(6):
        start = datetime.combine(today - timedelta(days=3 + n * 9), time(19), UTC)
        event_id = conn.execute(
            "INSERT INTO pwr_core.events (external_event_id, name, scheduled_start_ts, scheduled_end_ts, "
            "actual_start_ts, actual_end_ts, status, discord_guild_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, 'completed', %s) RETURNING event_id",
            (
                f"e{n}",
                f"Scrim {n}",
                start,
                start + timedelta(hours=2),
                start,
                start + timedelta(hours=2),
                GUILD,
            ),
        ).fetchone()[0]
        for uid in USERS:
            if uid != 16 and rng.random() < 0.6:
                on_time = rng.random() < 0.7
                conn.execute(
                    "INSERT INTO pwr_core.event_attendance (event_id, member_id, first_join_ts, last_leave_ts, "
                    "total_voice_seconds, joined_on_time) VALUES (%s, %s, %s, %s, 3600, %s)",
                    (event_id, ids[uid], start, start + timedelta(hours=1), on_time),
                )
                events.append((start, uid, on_time))
    weekly = {}
    for (d, u), s in daily.items():
        week = d - timedelta(days=d.weekday())
        weekly[(week, u)] = weekly.get((week, u), 0) + s
    for start, u, _ in events:
        week = start.date() - timedelta(days=start.date().weekday())
        weekly.setdefault((week, u), 0)
    conn.cursor().executemany(
        "INSERT INTO pwr_agg.member_engagement_weekly (week_start_date, member_id, total_voice_seconds, "
        "events_attended, distinct_event_types) VALUES (%s, %s, %s, %s, 0)",
        [
            (
                w,
                ids[u],
                s,
                sum(1 for st, eu, _ in events if eu == u and st.date() - timedelta(days=st.weekday()) == w),
            )
            for (w, u), s in weekly.items()
        ],
    )
    for uid, label in TRENDS.items():
        conn.execute(
            "INSERT INTO pwr_agg.member_trend VALUES (%s, %s, 1, 1, 0, 0, 0, %s, %s, %s)",
            (ids[uid], USERS[uid].title(), label, today, today),
        )
    return {"daily": daily, "events": events}


def expected_stats(rows: dict, uid: int, today: date) -> MemberStats:
    recent = {
        u: sum(s for (d, v), s in rows["daily"].items() if v == u and today - timedelta(days=28) < d <= today)
        for u in USERS
    }
    active = sorted((s for s in recent.values() if s > 0), reverse=True)
    mine = [e for e in rows["events"] if e[1] == uid]
    return MemberStats(
        USERS[uid].title(),
        recent[uid],
        sum(s for (_, v), s in rows["daily"].items() if v == uid),
        active.index(recent[uid]) + 1 if recent[uid] > 0 else None,  # rank(): ties share the best place
        len(active),
        len(mine),
        sum(e[2] for e in mine) / len(mine) if mine else None,
        TRENDS.get(uid),
    )


def expected_board(rows: dict, period: str, today: date) -> Leaderboard:
    since = period_start(period, today)
    voice: dict[int, int] = {}
    for (d, u), s in rows["daily"].items():
        if since is None or since <= d <= today:
            voice[u] = voice.get(u, 0) + s
    events: dict[int, int] = {}
    for start, u, _ in rows["events"]:
        if since is None or since <= start.date() <= today:
            events[u] = events.get(u, 0) + 1
    name = lambda u: USERS[u].title()  # noqa: E731
    return Leaderboard(
        period,
        since,
        sorted(((name(u), s) for u, s in voice.items() if s > 0), key=lambda x: (-x[1], x[0]))[:10],
        sorted(((name(u), n) for u, n in events.items()), key=lambda x: (-x[1], x[0]))[:10],
    )


def login_role(conn: psycopg.Connection, url: str, granted: str) -> Iterator[str]:
    """A throw-away login role holding ``granted`` (the production role) and its session settings;
    the production roles' own passwords are cluster-wide and are left alone (tests share a server)."""
    name = f"pwr_test_{granted}_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE ROLE {name} LOGIN INHERIT PASSWORD 'test-only' IN ROLE {granted}")
    if granted == "pwr_reader":
        conn.execute(f"ALTER ROLE {name} SET default_transaction_read_only = on")
    try:
        yield make_conninfo(**(conninfo_to_dict(url) | {"user": name, "password": "test-only"}))
    finally:
        conn.execute(f"DROP ROLE {name}")


@pytest.fixture
def reader_url(warehouse_url: str, warehouse_conn: psycopg.Connection) -> Iterator[str]:
    """The warehouse as the read-only role pwr_reader (what PWR_BOT_READER_DATABASE_URL names)."""
    yield from login_role(warehouse_conn, warehouse_url, "pwr_reader")


@pytest.fixture
def bot_role_url(warehouse_url: str, warehouse_conn: psycopg.Connection) -> Iterator[str]:
    """The warehouse as the collector's role pwr_bot (INSERT and SELECT on pwr_raw only)."""
    yield from login_role(warehouse_conn, warehouse_url, "pwr_bot")


def test_stats_and_leaderboards_equal_the_figures_from_the_rows(warehouse_conn, reader_url: str) -> None:
    rows = seed(warehouse_conn, TODAY)
    reader = BotReader(reader_url)
    for uid in USERS:
        assert asyncio.run(reader.member_stats(uid, TODAY)) == expected_stats(rows, uid, TODAY), uid
    assert asyncio.run(reader.member_stats(999, TODAY)) is None  # never seen
    ranks = [expected_stats(rows, u, TODAY).rank for u in USERS]
    assert len(set(ranks)) < len(ranks), "the seed must hold a tie"
    for period in ("week", "month", "all"):
        board = asyncio.run(reader.leaderboard(period, TODAY))
        assert board == expected_board(rows, period, TODAY), period
        assert board.voice, period


def test_the_reader_cannot_write_and_a_role_without_rights_gets_one_clear_message(
    warehouse_conn, warehouse_url: str, reader_url: str, bot_role_url: str
) -> None:
    rows = seed(warehouse_conn, TODAY)
    with psycopg.connect(reader_url) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("DELETE FROM pwr_agg.member_voice_daily")
    # without a reader URL the bot reads through its writer URL, in read-only transactions
    assert asyncio.run(BotReader(warehouse_url).member_stats(11, TODAY)) == expected_stats(rows, 11, TODAY)
    with pytest.raises(ReaderUnavailable, match="PWR_BOT_READER_DATABASE_URL"):
        asyncio.run(BotReader(bot_role_url).member_stats(11, TODAY))


def test_stats_and_leaderboard_through_the_gateway(
    warehouse_conn, warehouse_url, reader_url, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    rows = seed(warehouse_conn, today)
    discord_guild = guild(
        GUILD, voice_channels=[(101, 2, "General")], members=[member(11, "ada"), member(12, "bea")]
    )
    with local_discord(discord_guild) as discord:
        bot = BotProcess(discord, tmp_path / "home", warehouse_url, PWR_BOT_READER_DATABASE_URL=reader_url)
        try:
            bot.start()
            discord.wait_connected()
            bot.wait_ready()
            mine = discord.run_command(member(12, "bea"), "stats")
            ada = member(11, "ada")
            theirs = discord.run_command(
                member(12, "bea"),
                "stats",
                [option("member", "11", kind=6)],
                resolved={
                    "users": {"11": ada["user"]},
                    "members": {"11": {k: v for k, v in ada.items() if k != "user"}},
                },
            )
            board = discord.run_command(member(12, "bea"), "leaderboard", [option("period", "month")])
            assert bot.signal(signal.SIGTERM) == 0, bot.log()
        finally:
            bot.kill()
    assert mine["content"] == stats_text("<@12>", expected_stats(rows, 12, today)) and mine["flags"] & 64
    assert theirs["content"] == stats_text("<@11>", expected_stats(rows, 11, today))
    assert board["content"] == leaderboard_text(expected_board(rows, "month", today))
    assert not board.get("flags", 0) & 64  # the leaderboard is for the channel
