"""A deterministic synthetic Discord community: the demo data of ``make up`` and the benchmark load.

Everything comes from the seed and the period ``[end - days, end)``: the same seed and ``end``
give byte-identical records, in the same order, on any machine (every random stream is a
``random.Random`` seeded from a string, which hashes with SHA-512, not Python's salted hash).

What it models, and why each part is there (the warehouse's transforms must handle all of it):

- **members** with heavy-tailed activity (log-normal weights: a few regulars, many lurkers), some
  present before the period, most joining over it; ~20 % churn (activity declines for three weeks,
  then a ``leave`` member record) and ~15 % fade out without leaving (retention shape);
- **voice sessions** with an evening peak and a weekend afternoon bump in ``PWR_TIMEZONE``,
  log-normal lengths, channel moves, idling off to the AFK channel;
- **scheduled events** (scrims Tue/Thu, inhouses Sat, a monthly meeting, occasional extra scrims)
  recorded as the bot sees them — ``scheduled`` at creation, ``active`` at the actual start,
  ``completed`` at the end, a few ``cancelled`` — with attendance in the event's channel,
  on-time and late arrivals and early leavers, and Discord's "interested" count (``user_count``
  in the payload): a share of it at creation, the final count from the start on. The final count
  is drawn around the event's expected turnout (members in the guild then, their weights), so
  RSVPs over-promise a little as they do: some who click "interested" stay away, a few come
  without;
- **collector gaps**: the bot is down for minutes to hours now and then; no heartbeats and no
  voice events are recorded inside a gap, and at its end the reconnect snapshot records a ``join``
  (``source = "snapshot"``) for everyone then in voice, as the real bot's ``on_ready`` does;
- **malformed log lines** (every kind ``pwr ingest`` rejects), which go to quarantine through
  the same validation as real logs.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from random import Random
from zoneinfo import ZoneInfo

from pwr_platform.ingest.records import (
    HeartbeatRecord,
    MemberRecord,
    Record,
    ScheduledEventRecord,
    check_line,
    voice_payload,
)

DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_GUILD_ID = 811_111_111_111_111_111

# Relative likelihood of a session starting in each local hour (weekday / weekend).
WEEKDAY_HOURS = [0.25, 0.12, 0.06, 0.03, 0.02, 0.02, 0.04, 0.08, 0.1, 0.12, 0.15, 0.2] + [
    0.3,
    0.3,
    0.3,
    0.35,
    0.45,
    0.7,
    1.1,
    1.6,
    2.1,
    2.2,
    1.7,
    0.9,
]
WEEKEND_HOURS = [0.45, 0.3, 0.15, 0.08, 0.04, 0.03, 0.03, 0.05, 0.1, 0.2, 0.35, 0.55] + [
    0.75,
    0.9,
    1.0,
    1.0,
    1.0,
    1.1,
    1.3,
    1.7,
    2.0,
    2.1,
    1.8,
    1.2,
]
WEEKDAY_FACTOR = (0.85, 0.95, 0.9, 1.0, 1.2, 1.5, 1.35)  # Mon..Sun

GENERAL_CHANNELS = ("General", "Lounge", "Duo Queue", "Squad 1", "Squad 2", "Chill")
EVENT_CHANNELS = {"scrim": "Scrim Room", "inhouse": "Inhouse Lobby", "meeting": "Town Hall"}
AFK_CHANNEL = "AFK"
ADJECTIVES = ("swift", "silent", "lucky", "brave", "sleepy", "cosmic", "rusty", "neon", "frosty", "wild")
NOUNS = ("fox", "otter", "raven", "panda", "wolf", "gecko", "lynx", "moth", "yak", "koi")
OPPONENTS = ("Night Owls", "Iron Wolves", "Team Kappa", "Lazy Llamas", "Red Comets", "Blue Shift")


def snowflake(ts: datetime, n: int) -> int:
    """A Discord-style id: creation milliseconds since Discord's epoch, then a 22-bit counter."""
    return ((int(ts.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22) | (n & 0x3FFFFF)


def midnight_utc_today() -> datetime:
    return datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)


@dataclass(frozen=True)
class SimulationConfig:
    members: int = 300
    days: int = 120
    seed: int = 1
    end: datetime = field(default_factory=midnight_utc_today)
    timezone: str = "UTC"
    guild_id: int = DEFAULT_GUILD_ID
    malformed_rate: float = 0.03  # malformed log lines per member

    def __post_init__(self) -> None:
        if self.members < 1 or self.days < 1:
            raise ValueError("members and days must be at least 1")
        if self.end.tzinfo is None:
            raise ValueError("end must be timezone-aware")

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)


@dataclass(frozen=True)
class SimEvent:
    event_id: int
    event_type: str
    name: str
    channel_id: int
    scheduled_start: datetime
    scheduled_end: datetime
    actual_start: datetime
    actual_end: datetime
    cancelled: bool
    creator_index: int
    observations: tuple[tuple[datetime, str], ...]
    interested: int = 0  # Discord's user_count once RSVPs are in (observed from the event's start)
    early_interested: int = 0  # the count already there when the event was created


@dataclass
class _Member:
    index: int
    user_id: int
    username: str
    display_name: str
    weight: float
    joined_at: datetime
    leave_at: datetime | None
    fade_at: datetime | None


class Simulation:
    """The community for one config; :meth:`records` streams every record it writes."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        self.start = config.start
        self.end = config.end
        self.guild_created = self.start - timedelta(days=900)
        world = Random(f"pwr-sim:{config.seed}:world")
        names = [*GENERAL_CHANNELS, *EVENT_CHANNELS.values(), AFK_CHANNEL]
        # Channel and event ids are unique across Discord, not per guild: two communities simulated
        # into one warehouse must not share them (the default guild keeps its ids)
        self._id_salt = 0 if config.guild_id == DEFAULT_GUILD_ID else (config.guild_id % 1023 + 1) << 12
        self.channel_ids = {
            name: snowflake(self.guild_created, self._id_salt | (100 + i)) for i, name in enumerate(names)
        }
        self.channel_names = {channel_id: name for name, channel_id in self.channel_ids.items()}
        self.afk_channel_id = self.channel_ids[AFK_CHANNEL]
        self.gaps = self._collector_gaps(world)
        self._gap_starts = [g[0] for g in self.gaps]
        self.events = self._scheduled_events(world)

    # -- world -----------------------------------------------------------------------------
    def _collector_gaps(self, rng: Random) -> list[tuple[datetime, datetime]]:
        """Non-overlapping [down, back) periods of the collector, minutes to a few hours long."""
        count = max(1, round(self.config.days / 20))
        span = (self.end - self.start).total_seconds()
        gaps = []
        for _ in range(count):
            begin = self.start + timedelta(seconds=rng.uniform(0.02, 0.97) * span)
            begin = begin.replace(second=30, microsecond=0)
            minutes = min(360.0, 8 + rng.expovariate(1 / 60))
            gaps.append((begin, min(self.end, begin + timedelta(minutes=minutes))))
        gaps.sort()
        merged: list[tuple[datetime, datetime]] = []
        for begin, back in gaps:
            if merged and begin <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], back))
            else:
                merged.append((begin, back))
        return merged

    def gap_at(self, ts: datetime) -> tuple[datetime, datetime] | None:
        i = bisect.bisect_right(self._gap_starts, ts) - 1
        if i >= 0 and self.gaps[i][0] <= ts < self.gaps[i][1]:
            return self.gaps[i]
        return None

    def _local(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=self.tz).astimezone(UTC)

    def _days(self) -> Iterator[date]:
        day = self.start.astimezone(self.tz).date()
        last = self.end.astimezone(self.tz).date()
        while day <= last:
            yield day
            day += timedelta(days=1)

    def _scheduled_events(self, rng: Random) -> list[SimEvent]:
        plans: list[tuple[str, datetime, float]] = []  # (type, scheduled start, hours)
        for day in self._days():
            weekday = day.weekday()
            if weekday in (1, 3):
                plans.append(("scrim", self._local(day, 20), 2.0))
            elif weekday == 5:
                plans.append(("inhouse", self._local(day, 19), 3.0))
            elif weekday == 6 and day.day <= 7:
                plans.append(("meeting", self._local(day, 18), 1.0))
            elif rng.random() < 0.12:
                plans.append(("scrim", self._local(day, 21), 1.5))
        events = []
        counters = {"scrim": 0, "inhouse": 0, "meeting": 0}
        for k, (kind, sched_start, hours) in enumerate(plans):
            counters[kind] += 1
            sched_end = sched_start + timedelta(hours=hours)
            created = sched_start - timedelta(days=rng.uniform(1, 7))
            cancelled = rng.random() < 0.06
            actual_start = sched_start + timedelta(seconds=rng.uniform(0, 12 * 60))
            actual_end = actual_start + timedelta(hours=hours * rng.uniform(0.8, 1.25))
            if kind == "scrim":
                name = f"Scrim vs {rng.choice(OPPONENTS)}"
            elif kind == "inhouse":
                name = f"Inhouse #{counters['inhouse']}"
            else:
                name = f"Community meeting {sched_start.astimezone(self.tz):%B %Y}"
            observed = [(max(created, self.start), "scheduled")]
            if cancelled:
                observed.append((sched_start - timedelta(hours=rng.uniform(0.2, 20)), "cancelled"))
            else:
                observed += [(actual_start, "active"), (actual_end, "completed")]
            events.append(
                SimEvent(
                    event_id=snowflake(created, self._id_salt | (1000 + k)),
                    event_type=kind,
                    name=name,
                    channel_id=self.channel_ids[EVENT_CHANNELS[kind]],
                    scheduled_start=sched_start,
                    scheduled_end=sched_end,
                    actual_start=actual_start,
                    actual_end=actual_end,
                    cancelled=cancelled,
                    creator_index=rng.randrange(min(10, self.config.members)),
                    observations=tuple(self._as_collector_saw(sorted(observed))),
                )
            )
        return events

    @cached_property
    def events_with_interest(self) -> list[SimEvent]:
        """The events with interest counts and creators; computed only when event records are
        written (it visits every member per event, which voice-only users such as the ingest
        benchmark do not need)."""
        return self._with_interest(self.events)

    def _with_interest(self, events: list[SimEvent]) -> list[SimEvent]:
        """Each event with its "interested" counts, drawn around its expected turnout.

        The creator is one of the five most active members in the guild from the event's creation
        to its end. Expected turnout is the sum of the attendance chances ``_sessions`` gives the members in
        the guild at the event's start, so RSVPs and attendance move together (a big inhouse draws
        more interest than a Tuesday scrim). Its own random stream per event: adding interest does
        not change any other record of the same seed.
        """
        members = [
            self._member(i, Random(f"pwr-sim:{self.config.seed}:member:{i}"))
            for i in range(self.config.members)
        ]
        result = []
        for ev in events:
            rng = Random(f"pwr-sim:{self.config.seed}:interest:{ev.event_id}")
            expected = sum(
                _attend_chance(m, ev.event_type) * self._activity(m, ev.actual_start)
                for m in members
                if max(m.joined_at, self.start) <= ev.actual_start < (m.leave_at or self.end)
            )
            interested = max(1, round(expected * rng.uniform(0.9, 1.6) + rng.gauss(0, 1)))
            early = round(interested * rng.uniform(0.2, 0.6))
            created = ev.observations[0][0] if ev.observations else ev.scheduled_start
            hosts = sorted(
                (
                    m
                    for m in members
                    if m.joined_at <= created and (m.leave_at or self.end) > ev.scheduled_end
                ),
                key=lambda m: -m.weight,
            )[:5]  # organisers are regulars who are in the guild when they create the event
            creator = rng.choice(hosts).index if hosts else ev.creator_index
            result.append(replace(ev, interested=interested, early_interested=early, creator_index=creator))
        return result

    def _as_collector_saw(self, observed: list[tuple[datetime, str]]) -> list[tuple[datetime, str]]:
        """Drop what happens after the period; a state reached while the collector was down is
        seen at its reconnect (startup sync), and only the last state within one gap is seen."""
        seen: list[tuple[datetime, str]] = []
        for ts, status in observed:
            if ts >= self.end:
                break
            gap = self.gap_at(ts)
            if gap is not None:
                ts = gap[1] + timedelta(seconds=3)
                if ts >= self.end:
                    break
                if seen and seen[-1][0] == ts:
                    seen.pop()
            seen.append((ts, status))
        return seen

    def user_id(self, index: int) -> int:
        return snowflake(self.guild_created - timedelta(days=(index * 7919) % 1500), 5000 + index)

    def _member(self, index: int, rng: Random) -> _Member:
        days = self.config.days
        if rng.random() < 0.4:
            joined = self.start - timedelta(days=rng.uniform(1, 400))
        else:  # growth: more newcomers later in the period
            joined = self.start + timedelta(days=days * rng.random() ** 0.7)
        joined = joined.replace(microsecond=0)
        leave_at = fade_at = None
        first_day = max(joined, self.start)
        room = (self.end - first_day).total_seconds()
        if rng.random() < 0.2 and room > 14 * 86400:
            leave_at = first_day + timedelta(seconds=rng.uniform(7 * 86400, room))
            leave_at = leave_at.replace(microsecond=0)
        elif rng.random() < 0.19 and room > 10 * 86400:
            fade_at = first_day + timedelta(seconds=rng.uniform(3 * 86400, room))
        name = f"{ADJECTIVES[index % 10]}{NOUNS[(index // 10) % 10]}{index}"
        return _Member(
            index=index,
            user_id=self.user_id(index),
            username=name,
            display_name=name.capitalize(),
            weight=rng.lognormvariate(0.0, 1.0),
            joined_at=joined,
            leave_at=leave_at,
            fade_at=fade_at,
        )

    # -- records -----------------------------------------------------------------------------
    def records(self) -> Iterator[Record]:
        """Every record, streamed: heartbeats, scheduled-event states, then member by member."""
        yield from self.heartbeats()
        yield from self.scheduled_event_records()
        for index in range(self.config.members):
            yield from self.member_records(index)

    def heartbeats(self) -> Iterator[HeartbeatRecord]:
        guild = self.config.guild_id
        run = 0
        ts = self.start
        minute = timedelta(minutes=1)
        gap_iter = iter(self.gaps)
        gap = next(gap_iter, None)
        while ts < self.end:
            if gap is not None and ts >= gap[0]:
                if ts < gap[1]:
                    ts = gap[1].replace(second=0, microsecond=0) + minute
                    run += 1
                    continue
                gap = next(gap_iter, None)
                continue
            yield HeartbeatRecord(guild, f"sim-{self.config.seed}-{run}", ts)
            ts += minute

    def scheduled_event_records(self) -> Iterator[ScheduledEventRecord]:
        guild = self.config.guild_id
        for ev in self.events_with_interest:
            creator = self.user_id(ev.creator_index)
            for observed_ts, status in ev.observations:
                payload = {
                    "id": str(ev.event_id),
                    "status": status,
                    "name": ev.name,
                    "channel_id": str(ev.channel_id),
                    "user_count": ev.early_interested if observed_ts < ev.actual_start else ev.interested,
                    "source": "simulator",
                }
                yield ScheduledEventRecord(
                    guild_id=guild,
                    event_id=ev.event_id,
                    observed_ts=observed_ts,
                    status=status,
                    name=ev.name,
                    scheduled_start_ts=ev.scheduled_start,
                    scheduled_end_ts=ev.scheduled_end,
                    description=f"{ev.event_type} in #{EVENT_CHANNELS[ev.event_type]}",
                    event_type=ev.event_type,
                    channel_id=ev.channel_id,
                    creator_id=creator,
                    payload=json.dumps(payload),
                )

    def member_records(self, index: int) -> Iterator[Record]:
        rng = Random(f"pwr-sim:{self.config.seed}:member:{index}")
        m = self._member(index, rng)
        guild = self.config.guild_id
        yield MemberRecord(
            guild, m.user_id, "join", m.joined_at, m.username, m.display_name, m.joined_at,
            payload=json.dumps({"source": "simulator"}),
        )  # fmt: skip
        if rng.random() < 0.05:
            renamed = self.start + timedelta(seconds=rng.uniform(0, (self.end - self.start).total_seconds()))
            if renamed > m.joined_at and (m.leave_at is None or renamed < m.leave_at):
                m.display_name = f"{m.display_name} [{rng.choice(('PwR', 'AFK', 'ttv'))}]"
                yield MemberRecord(
                    guild, m.user_id, "update", renamed.replace(microsecond=0), m.username, m.display_name,
                    m.joined_at, payload=json.dumps({"source": "simulator"}),
                )  # fmt: skip
        sessions = self._sessions(m, rng)
        yield from self._voice_records(m, sessions, rng)
        if m.leave_at is not None:
            yield MemberRecord(
                guild, m.user_id, "leave", m.leave_at, m.username, m.display_name, m.joined_at,
                payload=json.dumps({"source": "simulator"}),
            )  # fmt: skip
        if rng.random() < self.config.malformed_rate:
            yield self._malformed(m, rng)

    def _activity(self, m: _Member, ts: datetime) -> float:
        """How active the member is at ``ts`` relative to their weight (decline before churn)."""
        factor = 1.0
        if m.leave_at is not None:
            days_left = (m.leave_at - ts).total_seconds() / 86400
            if days_left < 21:
                factor = max(0.05, days_left / 21)
        if m.fade_at is not None and ts >= m.fade_at:
            factor *= 0.05
        return factor

    def _sessions(self, m: _Member, rng: Random) -> list[list[tuple[int, datetime, datetime]]]:
        """Non-overlapping sessions, each a list of (channel, start, end) segments."""
        first = max(m.joined_at, self.start)
        last = min(m.leave_at or self.end, self.end)
        favourites = rng.sample(GENERAL_CHANNELS, 3)
        event_sessions = []
        for ev in self.events:
            if ev.cancelled or not first <= ev.actual_start < last:
                continue
            if rng.random() >= _attend_chance(m, ev.event_type) * self._activity(m, ev.actual_start):
                continue
            r = rng.random()
            if r < 0.65:
                offset = rng.gauss(-2, 3)
            elif r < 0.9:
                offset = rng.uniform(5, 20)
            else:
                offset = rng.uniform(20, 60)
            arrive = ev.actual_start + timedelta(minutes=offset, seconds=rng.uniform(0, 59))
            if rng.random() < 0.15:
                depart = arrive + (ev.actual_end - arrive) * rng.uniform(0.3, 0.8)
            else:
                depart = ev.actual_end + timedelta(minutes=rng.gauss(2, 5))
            depart = min(depart, last)
            if depart - arrive > timedelta(minutes=1):
                event_sessions.append([(ev.channel_id, arrive, depart)])

        casual = []
        day = first.astimezone(self.tz).date()
        last_day = last.astimezone(self.tz).date()
        while day <= last_day:
            weekday = day.weekday()
            noon = self._local(day, 12)
            rate = min(6.0, 0.45 * m.weight * WEEKDAY_FACTOR[weekday] * self._activity(m, noon))
            hours = WEEKEND_HOURS if weekday >= 5 else WEEKDAY_HOURS
            for _ in range(_poisson(rng, rate)):
                hour = rng.choices(range(24), weights=hours)[0]
                start = self._local(day, hour) + timedelta(seconds=rng.uniform(0, 3600))
                minutes = min(480.0, max(1.0, rng.lognormvariate(math.log(40), 0.9)))
                end = min(start + timedelta(minutes=minutes), last)
                if not first <= start < end:
                    continue
                casual.append(self._segments(rng, favourites, start, end))
            day += timedelta(days=1)

        busy = sorted(
            (s[0][1] - timedelta(minutes=2), s[-1][2] + timedelta(minutes=2)) for s in event_sessions
        )
        starts = [b[0] for b in busy]
        chosen = list(event_sessions)
        for session in casual:
            s, e = session[0][1], session[-1][2]
            i = bisect.bisect_right(starts, e)
            if any(bs < e and s < be for bs, be in busy[max(0, i - 3) : i]):
                continue
            chosen.append(session)
        chosen.sort(key=lambda sess: sess[0][1])
        result: list[list[tuple[int, datetime, datetime]]] = []
        for session in chosen:  # casual sessions may still overlap each other: keep the first
            if result and session[0][1] < result[-1][-1][2] + timedelta(minutes=1):
                continue
            result.append(session)
        return result

    def _segments(
        self, rng: Random, favourites: list[str], start: datetime, end: datetime
    ) -> list[tuple[int, datetime, datetime]]:
        channels = [rng.choice(favourites)]
        if rng.random() < 0.3:
            for _ in range(rng.choice((1, 1, 2))):
                channels.append(rng.choice([c for c in GENERAL_CHANNELS if c != channels[-1]]))
        if rng.random() < 0.05:
            channels.append(AFK_CHANNEL)
        cuts = sorted(rng.uniform(0.15, 0.85) for _ in range(len(channels) - 1))
        span = end - start
        points = [start, *(start + span * c for c in cuts), end]
        return [(self.channel_ids[c], points[i], points[i + 1]) for i, c in enumerate(channels)]

    def _voice_records(self, m: _Member, sessions, rng: Random) -> Iterator[Record]:
        guild = self.config.guild_id
        extra = {"username": m.username, "display_name": m.display_name}
        for session in sessions:
            mute = rng.random() < 0.2
            deaf = rng.random() < 0.04
            flags = {"self_mute": mute, "self_deaf": deaf}
            events = []
            prev = None
            for channel, seg_start, _ in session:
                if prev is None:
                    events.append(("join", seg_start, channel, None))
                else:
                    events.append(("move", seg_start, channel, prev))
                prev = channel
            events.append(("leave", session[-1][2], prev, None))
            for event_type, ts, channel, from_channel in events:
                if ts >= self.end:
                    break
                gap = self.gap_at(ts)
                if gap is not None:
                    continue
                yield voice_payload(
                    event_type, ts, guild, m.user_id, channel, from_channel_id=from_channel,
                    channel_name=self.channel_names[channel], from_channel_name=self.channel_names.get(from_channel),
                    afk=True if channel == self.afk_channel_id else None, source="simulator", **flags, **extra,
                )  # fmt: skip
            # The collector's reconnect snapshot: a join for whoever is in voice when it returns.
            for _, back in self.gaps:
                seen_at = back + timedelta(seconds=2)
                if seen_at >= self.end or not session[0][1] < back <= seen_at < session[-1][2]:
                    continue
                channel = next(c for c, s, e in session if s <= seen_at < e)
                yield voice_payload(
                    "join", seen_at, guild, m.user_id, channel, channel_name=self.channel_names[channel],
                    afk=True if channel == self.afk_channel_id else None, source="snapshot", **flags, **extra,
                )  # fmt: skip

    def _malformed(self, m: _Member, rng: Random) -> Record:
        """A broken log line of one of the kinds ``pwr ingest`` must reject; validated like one."""
        ts = self.start + timedelta(seconds=rng.uniform(0, (self.end - self.start).total_seconds()))
        good = {
            "event_type": "join",
            "event_ts": ts.isoformat().replace("+00:00", "Z"),
            "discord_guild_id": str(self.config.guild_id),
            "discord_user_id": str(m.user_id),
            "discord_channel_id": str(self.channel_ids["General"]),
            "source": "simulator",
        }
        kind = rng.randrange(6)
        if kind == 0:
            line = json.dumps(good)[:-12]  # truncated write: bad JSON
        elif kind == 1:
            del good["discord_channel_id"]
            line = json.dumps(good)
        elif kind == 2:
            line = json.dumps({**good, "event_type": "mute"})
        elif kind == 3:
            line = json.dumps({**good, "discord_user_id": m.username})
        elif kind == 4:
            line = json.dumps({**good, "event_ts": ts.replace(tzinfo=None).isoformat()})
        else:
            line = json.dumps({**good, "event_ts": f"{ts.year}-02-30T25:61:00Z"})
        return check_line(line, "simulator", f"simulator:seed={self.config.seed}:member={m.index}")


def _attend_chance(m: _Member, event_type: str) -> float:
    """A member's chance of attending an event of this type at full activity (regulars go more)."""
    base = {"scrim": 0.006 * m.weight**2, "inhouse": 0.01 * m.weight**2, "meeting": 0.05 + 0.03 * m.weight}
    return min(0.9, base[event_type])


def _poisson(rng: Random, lam: float) -> int:
    """Knuth's method: fine for the small rates used here (a few sessions a day)."""
    if lam <= 0:
        return 0
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
