"""The bot's application commands: ``/event start|end|status``, ``/stats``, ``/leaderboard``.

Organizers run events from Discord, members see their own figures (ROADMAP, issue 14). The
commands are guild-scoped (registered for ``PWR_GUILD_ID`` only: a guild command appears at once
after ``pwr bot --sync``, a global one can take an hour).

``/event`` writes exactly like the listeners do: it builds an :class:`EventCommandRecord` and puts
it on the collector's writer queue, so a command run while PostgreSQL is down is spooled and
replayed like any voice event, and the reply never waits for the database. To judge a command
(is the event known, running, already ended?) it reads the events through the read-only
:class:`BotReader` and lays over them the commands this process recorded itself, which the
warehouse may not have yet (queued, or spooled during an outage). When the warehouse cannot be
read, the reply says the check used the bot's own records only.

Only members with Discord's *Manage Events* permission or the role ``PWR_ORGANIZER_ROLE_ID`` may
run ``/event``; the check is made here on every call (a command's default permissions in Discord
can be changed by any server admin, so they are not relied on). Replies to ``/event`` and
``/stats`` are ephemeral (only the caller sees them); ``/leaderboard`` is posted for the channel.

The decisions are plain functions of the events' states (:func:`start_event`, :func:`end_event`),
tested without Discord; the command classes only gather their inputs and send the reply.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

import discord
from discord import app_commands

from pwr_platform.ingest.bot.config import CollectorConfig, RecordSink
from pwr_platform.ingest.bot.reader import BotReader, EventState, Leaderboard, MemberStats, ReaderUnavailable
from pwr_platform.ingest.bot.scheduled_events import classify_event_type
from pwr_platform.ingest.records import EventCommandRecord

log = logging.getLogger(__name__)

EVENT_TYPES = ("scrim", "inhouse", "meeting", "other")
STATUS_RANK = {"scheduled": 0, "active": 1, "completed": 2, "cancelled": 3}


def when(ts: datetime) -> str:
    """A time as Discord shows it to each reader in their own zone, with UTC for the log."""
    return f"{discord.utils.format_dt(ts, 't')} ({ts.strftime('%H:%M')} UTC)"


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def hours(seconds: int) -> str:
    return f"{seconds / 3600:.1f} h"


def channel_list(channel_ids: tuple[int, ...]) -> str:
    return ", ".join(f"<#{c}>" for c in channel_ids)


MAX_MESSAGE = 2000  # Discord refuses a longer message (HTTP 400), and the reply would be lost
MAX_EVENT_NAME = 100  # as Discord's own scheduled events


async def reply(interaction: discord.Interaction, text: str, *, ephemeral: bool = False) -> None:
    """Answer the interaction, cut to Discord's message limit: a reply over it is refused by
    Discord, which would leave the caller with no answer at all (after the record was written)."""
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    await interaction.response.send_message(text, ephemeral=ephemeral)


# -- who may run /event ---------------------------------------------------------------------------------


def is_organizer(
    permissions: discord.Permissions, role_ids: list[int], organizer_role_id: int | None
) -> bool:
    return permissions.manage_events or (organizer_role_id is not None and organizer_role_id in role_ids)


def refusal(command: str, organizer_role_id: int | None) -> str:
    role = f" or the organizer role <@&{organizer_role_id}>" if organizer_role_id else ""
    return f"You may not run `/{command}`: it needs Discord's **Manage Events** permission{role}. Nothing was recorded."


# -- the events' states: the warehouse's, overlaid with what this process recorded ----------------------


@dataclass
class EventBook:
    """Commands this bot process recorded, as event states, until the warehouse shows them."""

    local: dict[str, EventState] = field(default_factory=dict)

    def overlay(self, stored: list[EventState]) -> list[EventState]:
        states = {s.external_event_id: s for s in stored}
        for key, mine in self.local.items():
            theirs = states.get(key)
            if theirs is None or STATUS_RANK[mine.status] > STATUS_RANK[theirs.status]:
                states[key] = mine
        return list(states.values())

    def remember(self, state: EventState) -> None:
        self.local[state.external_event_id] = state


@dataclass(frozen=True)
class Outcome:
    """What a command decided: the record to write (None: refused) and the reply."""

    reply: str
    record: EventCommandRecord | None = None
    state: EventState | None = None


def find_events(states: list[EventState], text: str) -> list[EventState]:
    """Events named by ``text``: its external id (what autocomplete fills in) or its name."""
    exact = [s for s in states if s.external_event_id == text]
    if exact:
        return exact
    wanted = text.strip().casefold()
    return [s for s in states if s.name.casefold() == wanted]


def _payload(**fields) -> str:
    return json.dumps({k: v for k, v in fields.items() if v is not None} | {"source": "bot"})


def start_event(
    states: list[EventState],
    *,
    event: str | None,
    kind: str | None,
    channel_id: int | None,
    voice_channel_id: int | None,
    now: datetime,
    guild_id: int,
    interaction_id: int,
    organizer_id: int,
    more_channel_ids: tuple[int, ...] = (),
) -> Outcome:
    """``/event start``: start a known event, or an ad-hoc one when ``event`` names none.

    An event picked by its id (what autocomplete fills in) is that event, whatever its state. A
    name matches only events not yet ended: "Scrim night" again tomorrow is a new event, not a
    refusal because yesterday's has ended.

    Channels: ``channel_id`` (``channel:``, by default the organizer's voice channel) and
    ``more_channel_ids`` (``channel_2:``, ``channel_3:``) — a scrim runs in two team channels, and
    members in either attend. A known event runs in its own channel (Discord's event names one)
    and the ones given beside it; the organizer's voice channel stands in for ``channel:`` only
    when the event has none. The record carries the channels the command adds, so the event's own
    channel stays whatever its source says later (``sql/events.sql`` takes the union)."""
    given = tuple(dict.fromkeys(c for c in (channel_id, *more_channel_ids) if c))
    defaulted = tuple(dict.fromkeys(c for c in (channel_id or voice_channel_id, *more_channel_ids) if c))
    exact = [s for s in states if event and s.external_event_id == event]
    open_matches = [
        s for s in (find_events(states, event) if event else []) if s.status in ("scheduled", "active")
    ]
    if exact:
        target = exact[0]
    elif open_matches:
        # of several open events of that name, the one scheduled nearest to now
        target = min(open_matches, key=lambda s: abs((s.scheduled_start_ts or now) - now))
    else:
        target = None
    if target is not None:
        if target.status == "cancelled":
            return Outcome(f"**{target.name}** was cancelled; it cannot be started. Nothing was recorded.")
        if target.status == "completed":
            ended = f" at {when(target.ended_ts)}" if target.ended_ts else ""
            return Outcome(f"**{target.name}** already ended{ended}. Nothing was recorded.")
        if target.status == "active" and target.started_ts is not None:
            return Outcome(
                f"**{target.name}** is already running since {when(target.started_ts)}. Nothing was recorded."
            )
        own = target.channel_ids
        added = tuple(c for c in given if c not in own) if own else defaulted
        channels = own + added
        if not channels:
            return Outcome(
                f"**{target.name}** has no voice channel: join the channel it runs in, or give `channel:`. "
                "Nothing was recorded."
            )
        external_id, name, event_type = target.external_event_id, target.name, kind or target.event_type
        what = f"**{name}**"
    else:
        channels = added = defaulted
        name = (event or "").strip() or f"Ad-hoc {kind or 'event'}"
        if len(name) > MAX_EVENT_NAME:
            return Outcome(
                f"The event name is {len(name):,} characters long; give at most {MAX_EVENT_NAME} "
                "(as Discord's own events). Nothing was recorded."
            )
        if not channels:
            return Outcome(
                f"Join the voice channel **{name}** runs in, or give `channel:`. Nothing was recorded."
            )
        external_id = f"bot:{interaction_id}"
        event_type = kind or classify_event_type(name, None)
        what = f"the new event **{name}**"
    record = EventCommandRecord(
        guild_id=guild_id,
        interaction_id=interaction_id,
        action="start",
        external_event_id=external_id,
        recorded_ts=now,
        organizer_id=organizer_id,
        name=name,
        event_type=event_type if event_type != "other" else None,
        channel_ids=added,
        payload=_payload(
            command="event start",
            event=event,
            type=kind,
            channel_ids=[str(c) for c in given] or None,
            organizer_id=str(organizer_id),
        ),
    )
    state = EventState(
        external_id,
        name,
        record.event_type,
        "active",
        target.scheduled_start_ts if target else now,
        now,
        None,
        tuple(channels),
    )
    reply = (
        f"Recorded: {what} started at {when(now)} in {channel_list(state.channel_ids)} "
        f"(event `{external_id}`). End it with `/event end`."
    )
    return Outcome(reply, record, state)


def end_event(
    states: list[EventState],
    *,
    event: str | None,
    now: datetime,
    guild_id: int,
    interaction_id: int,
    organizer_id: int,
) -> Outcome:
    """``/event end``: record the actual end of the named (or the only running) event."""
    running = [s for s in states if s.status == "active"]
    if event is None:
        if not running:
            return Outcome("No event is running (start one with `/event start`). Nothing was recorded.")
        if len(running) > 1:
            names = ", ".join(f"**{s.name}**" for s in running)
            return Outcome(
                f"Several events are running ({names}): name one with `event:`. Nothing was recorded."
            )
        target = running[0]
    else:
        matches = find_events(states, event)
        if not matches:
            return Outcome(f"No event **{event}** is known. Nothing was recorded.")
        active = [s for s in matches if s.status == "active"]
        target = active[0] if active else max(matches, key=lambda s: STATUS_RANK[s.status])
    if target.status == "completed":
        ended = f" at {when(target.ended_ts)}" if target.ended_ts else ""
        return Outcome(f"**{target.name}** already ended{ended}. Nothing was recorded.")
    if target.status == "cancelled":
        return Outcome(f"**{target.name}** was cancelled. Nothing was recorded.")
    if target.status != "active":
        return Outcome(
            f"**{target.name}** has not started: start it with `/event start` first. Nothing was recorded."
        )
    record = EventCommandRecord(
        guild_id=guild_id,
        interaction_id=interaction_id,
        action="end",
        external_event_id=target.external_event_id,
        recorded_ts=now,
        organizer_id=organizer_id,
        name=target.name,
        payload=_payload(command="event end", event=event, organizer_id=str(organizer_id)),
    )
    ran = f" (ran {duration((now - target.started_ts).total_seconds())})" if target.started_ts else ""
    reply = f"Recorded: **{target.name}** ended at {when(now)}{ran}. Its attendance follows within minutes."
    return Outcome(reply, record, replace(target, status="completed", ended_ts=now))


def status_text(states: list[EventState], guild: discord.Guild | None) -> str:
    """``/event status``: what is running, since when, who is in its channels now."""
    running = sorted(
        (s for s in states if s.status == "active"), key=lambda s: s.started_ts or s.scheduled_start_ts
    )
    if not running:
        return "No event is running."
    lines = []
    for s in running:
        since = f" since {when(s.started_ts)}" if s.started_ts else ""
        lines.append(
            f"**{s.name}** (`{s.external_event_id}`){since} in {channel_list(s.channel_ids) or 'no channel'}"
        )
        present: list[int] = []
        for cid in s.channel_ids:
            channel = guild.get_channel(cid) if guild else None
            present += sorted(getattr(channel, "voice_states", {}) or {})
        lines.append(
            f"  in voice now ({len(present)}): " + (", ".join(f"<@{uid}>" for uid in present) or "nobody")
        )
    return "\n".join(lines)


def stats_text(subject: str, stats: MemberStats | None) -> str:
    if stats is None:
        return f"No voice activity or events are recorded for {subject} yet."
    rank = f" (#{stats.rank} of {stats.ranked_members})" if stats.rank else ""
    on_time = f", {stats.on_time_share:.0%} on time" if stats.on_time_share is not None else ""
    trend = stats.trend or "not enough weeks yet"
    return (
        f"**{stats.name or subject}**\n"
        f"Voice: {hours(stats.recent_seconds)} in the last 4 weeks{rank}, {hours(stats.all_time_seconds)} all time\n"
        f"Events attended: {stats.events_attended}{on_time}\n"
        f"Trend (last 4 weeks vs the 4 before): {trend}"
    )


def leaderboard_text(board: Leaderboard) -> str:
    title = {
        "week": f"this week (since {board.since})",
        "month": f"this month (since {board.since})",
        "all": "all time",
    }[board.period]
    voice = (
        "\n".join(f"{i}. {name} — {hours(s)}" for i, (name, s) in enumerate(board.voice, 1)) or "nobody yet"
    )
    events = "\n".join(f"{i}. {name} — {n}" for i, (name, n) in enumerate(board.events, 1)) or "nobody yet"
    return f"**Leaderboard, {title}**\n__Voice hours__\n{voice}\n__Events attended__\n{events}"


# -- the commands -------------------------------------------------------------------------------------


@dataclass
class CommandContext:
    config: CollectorConfig
    sink: RecordSink
    reader: BotReader | None
    organizer_role_id: int | None = None
    book: EventBook = field(default_factory=EventBook)

    async def states(self, guild_id: int) -> tuple[list[EventState], str]:
        """Events as the warehouse holds them overlaid with this process's commands; a note when
        the warehouse could not be read."""
        if self.reader is None:
            return self.book.overlay(
                []
            ), "\n(No warehouse reader is configured: checked against this bot's own records only.)"
        try:
            stored = await self.reader.event_states(guild_id)
        except ReaderUnavailable as exc:
            log.warning("commands: %s", exc)
            return self.book.overlay([]), f"\n(Checked against this bot's own records only: {exc}.)"
        return self.book.overlay(stored), ""


def _role_ids(user: discord.abc.User) -> list[int]:
    return [r.id for r in getattr(user, "roles", [])]


def _voice_channel_id(user: discord.abc.User) -> int | None:
    voice = getattr(user, "voice", None)
    return voice.channel.id if voice is not None and voice.channel is not None else None


class EventCommands(app_commands.Group):
    """``/event start|end|status``."""

    def __init__(self, context: CommandContext) -> None:
        super().__init__(name="event", description="Run a community event: record its actual start and end.")
        self.context = context

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        ctx = self.context
        if is_organizer(interaction.permissions, _role_ids(interaction.user), ctx.organizer_role_id):
            return True
        command = interaction.command.qualified_name if interaction.command else "event"
        log.info("commands: /%s refused for user %s (not an organizer)", command, interaction.user.id)
        await reply(interaction, refusal(command, ctx.organizer_role_id), ephemeral=True)
        return False

    async def _decide(self, interaction: discord.Interaction, decide, **options) -> None:
        """What /event start and /event end share: read the events' state, let ``decide``
        (``start_event`` / ``end_event``) choose, record what it chose, reply with what was recorded."""
        ctx = self.context
        states, note = await ctx.states(ctx.config.guild_id)
        outcome = decide(
            states,
            now=ctx.config.clock(),
            guild_id=ctx.config.guild_id,
            interaction_id=interaction.id,
            organizer_id=interaction.user.id,
            **options,
        )
        self._record(outcome)
        await reply(interaction, outcome.reply + note, ephemeral=True)

    def _record(self, outcome: Outcome) -> None:
        if outcome.record is not None:
            self.context.sink.put(outcome.record)
            self.context.book.remember(outcome.state)
            log.info(
                "commands: recorded /event %s for %s", outcome.record.action, outcome.record.external_event_id
            )

    @app_commands.command(
        name="start", description="Start an event now: a scheduled one, or a new one you name."
    )
    @app_commands.describe(
        event="A scheduled or imported event (pick from the list), or a name for a new event",
        kind="The event's type (new events; default: read from the name)",
        channel="The voice channel it runs in (default: the one you are in)",
        channel_2="Another voice channel it runs in (a scrim's second team, say)",
        channel_3="A third voice channel it runs in",
    )
    @app_commands.rename(kind="type")
    @app_commands.choices(kind=[app_commands.Choice(name=t, value=t) for t in EVENT_TYPES])
    async def start(
        self,
        interaction: discord.Interaction,
        event: str | None = None,
        kind: app_commands.Choice[str] | None = None,
        channel: discord.VoiceChannel | discord.StageChannel | None = None,
        channel_2: discord.VoiceChannel | discord.StageChannel | None = None,
        channel_3: discord.VoiceChannel | discord.StageChannel | None = None,
    ) -> None:
        await self._decide(
            interaction,
            start_event,
            event=event,
            kind=kind.value if kind else None,
            channel_id=channel.id if channel else None,
            more_channel_ids=tuple(c.id for c in (channel_2, channel_3) if c is not None),
            voice_channel_id=_voice_channel_id(interaction.user),
        )

    @start.autocomplete("event")
    async def start_event_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._event_choices(current, ("scheduled", "active"))

    @app_commands.command(name="end", description="End a running event now and complete it.")
    @app_commands.describe(event="The running event (default: the only one running)")
    async def end(self, interaction: discord.Interaction, event: str | None = None) -> None:
        await self._decide(interaction, end_event, event=event)

    @end.autocomplete("event")
    async def end_event_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._event_choices(current, ("active",))

    @app_commands.command(
        name="status", description="What is running, since when, and who is in its channels now."
    )
    async def status(self, interaction: discord.Interaction) -> None:
        ctx = self.context
        states, note = await ctx.states(ctx.config.guild_id)
        await reply(interaction, status_text(states, interaction.guild) + note, ephemeral=True)

    async def _event_choices(self, current: str, statuses: tuple[str, ...]) -> list[app_commands.Choice[str]]:
        states, _ = await self.context.states(self.context.config.guild_id)
        wanted = current.casefold()
        choices = [
            app_commands.Choice(name=f"{s.name} ({s.status})"[:100], value=s.external_event_id)
            for s in states
            if s.status in statuses and wanted in s.name.casefold()
        ]
        return choices[:25]


def member_commands(context: CommandContext) -> list[app_commands.Command]:
    """``/stats [member]`` and ``/leaderboard [week|month|all]``."""

    @app_commands.command(
        name="stats", description="Voice hours, rank, events and trend of a member (default: you)."
    )
    @app_commands.describe(member="Whose figures (default: yours)")
    async def stats(
        interaction: discord.Interaction, member: discord.Member | discord.User | None = None
    ) -> None:
        subject = member or interaction.user
        if context.reader is None:
            await reply(interaction, "Stats are not configured on this bot.", ephemeral=True)
            return
        try:
            figures = await context.reader.member_stats(subject.id)
        except ReaderUnavailable as exc:
            await reply(interaction, f"Stats are unavailable right now: {exc}.", ephemeral=True)
            return
        await reply(interaction, stats_text(subject.mention, figures), ephemeral=True)

    @app_commands.command(name="leaderboard", description="Top 10 by voice hours and by events attended.")
    @app_commands.describe(period="This week (default), this month, or all time")
    @app_commands.choices(period=[app_commands.Choice(name=p, value=p) for p in ("week", "month", "all")])
    async def leaderboard(
        interaction: discord.Interaction, period: app_commands.Choice[str] | None = None
    ) -> None:
        if context.reader is None:
            await reply(interaction, "The leaderboard is not configured on this bot.", ephemeral=True)
            return
        try:
            board = await context.reader.leaderboard(period.value if period else "week")
        except ReaderUnavailable as exc:
            await reply(interaction, f"The leaderboard is unavailable right now: {exc}.", ephemeral=True)
            return
        await reply(interaction, leaderboard_text(board))

    return [stats, leaderboard]


def _command_name(interaction: discord.Interaction) -> str:
    return interaction.command.qualified_name if interaction.command else "?"


def bad_option_text(command, error: app_commands.TransformerError, option: str | None = None) -> str:
    """The reply to an option value the command does not take, naming the option and its values.

    Discord offers only the registered choices and channel types, so such a value comes from
    commands registered by an older version of the bot (an upgrade without ``pwr bot --sync``) or
    from a member or channel that cannot be resolved. ``option``: the option the value was given
    for (from the interaction); without it, the option whose choices lack the value."""
    params = list(getattr(command, "parameters", ()))
    param = next((p for p in params if p.display_name == option), None)
    if param is None:
        param = next(
            (p for p in params if p.choices and error.value not in [c.value for c in p.choices]), None
        )
    stale = " (If Discord offered it, the bot's commands are out of date: an admin runs `pwr bot --sync`.)"
    if param is not None and param.choices:
        values = ", ".join(f"`{c.value}`" for c in param.choices)
        return (
            f"`{error.value}` is not a valid `{param.display_name}`: use one of {values}. "
            f"Nothing was recorded.{stale}"
        )
    if param is not None and param.channel_types:
        kinds = " or ".join(t.name.replace("stage_voice", "stage") for t in param.channel_types) + " channel"
        return f"`{error.value}` is not a valid `{param.display_name}`: give a {kinds}. Nothing was recorded.{stale}"
    if param is not None:
        return f"`{error.value}` is not a valid `{param.display_name}` here. Nothing was recorded."
    return f"`{error.value}` is not a valid {error.type.name.lower()} option here. Nothing was recorded."


def _option_of(interaction: discord.Interaction, value) -> str | None:
    """The name of the option ``value`` was given for in this interaction (discord.py hands the
    transformer, and so its error, the namespace's own object)."""
    return next((name for name, v in interaction.namespace if v is value), None)


def register_commands(tree: app_commands.CommandTree, context: CommandContext) -> None:
    """Every command, scoped to the collector's guild."""
    guild = discord.Object(id=context.config.guild_id)
    tree.add_command(EventCommands(context), guild=guild)
    for command in member_commands(context):
        tree.add_command(command, guild=guild)

    @tree.error
    async def on_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CheckFailure):
            return  # refused by interaction_check, which has replied
        if isinstance(error, app_commands.TransformerError):
            # an option value the command does not take: the caller's input, not a bot failure
            log.warning("commands: /%s: %s", _command_name(interaction), error)
            if not interaction.response.is_done():
                text = bad_option_text(interaction.command, error, _option_of(interaction, error.value))
                await reply(interaction, text, ephemeral=True)
            return
        log.error("commands: /%s failed", _command_name(interaction), exc_info=error)
        if not interaction.response.is_done():
            await reply(
                interaction,
                "That command failed inside the bot (the error is in its log). Nothing was recorded.",
                ephemeral=True,
            )


def _describe(command: app_commands.Command | app_commands.Group, prefix: str = "") -> list[str]:
    name = f"{prefix}/{command.name}" if not prefix else f"{prefix} {command.name}"
    if isinstance(command, app_commands.Group):
        lines = [f"{name} — {command.description}"]
        for sub in command.commands:
            lines += ["  " + line for line in _describe(sub, name)]
        return lines
    params = " ".join(
        f"[{p.display_name}]" if not p.required else f"<{p.display_name}>" for p in command.parameters
    )
    return [f"{name}{' ' + params if params else ''} — {command.description}"]


def command_tree_lines(tree: app_commands.CommandTree, guild_id: int) -> list[str]:
    """The command tree as ``pwr bot --list-commands`` prints it."""
    lines = []
    for command in tree.get_commands(guild=discord.Object(id=guild_id)):
        lines += _describe(command)
    return lines
