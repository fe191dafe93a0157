"""``pwr ingest``, ``pwr simulate`` and ``pwr bot``: every way data enters ``pwr_raw``."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from pwr_platform.cli.asset_events import record_writes
from pwr_platform.cli.progress import attached, progress_bar
from pwr_platform.settings import get_settings, secret_value


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


def checked_warehouse(url: str | None = None) -> str:
    """The warehouse URL (``url``, else the configured one with the embedded server started),
    checked to be reachable and migrated; a user-facing message and exit code when it is not."""
    import psycopg

    from pwr_platform.warehouse.connection import warehouse_url

    get_settings()  # a malformed PWR_* variable (the URL among them) stops here, named
    url = url or warehouse_url(start=True)
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            migrated = conn.execute("SELECT to_regclass('pwr_raw.discord_voice_events')").fetchone()[0]
    except psycopg.OperationalError as exc:
        raise click.ClickException(f"warehouse unreachable: {str(exc).strip()}") from None
    except psycopg.ProgrammingError as exc:  # a --database-url that is no connection string
        raise click.ClickException(f"not a PostgreSQL URL: {str(exc).strip()}") from None
    if migrated is None:
        raise click.ClickException("the warehouse has no schema yet: run `pwr db upgrade` first")
    return url


def _has_voice_events(url: str) -> bool:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT EXISTS (SELECT 1 FROM pwr_raw.discord_voice_events)").fetchone()[0]


def _open_writer(name: str, url: str, batch_size: int):
    from pwr_platform.ingest.spool import Spool
    from pwr_platform.ingest.writer import BackgroundWriter, Writer

    spool = Spool(get_settings().spool_dir, name).open()
    writer = Writer(url, spool=spool, batch_size=batch_size)
    if spool.pending:
        _echo_err(f"Replaying {spool.pending_records:,} records left in the spool by an earlier run …")
        writer.drain_spool(force=True)
    return spool, BackgroundWriter(writer)


def _close_writer(spool, writer, drain_timeout: float) -> None:
    done = writer.close(drain_timeout)
    spool.close()
    if not done:
        failure = writer.writer.failure
        if failure is not None and failure.kind == "short of resources":
            # the server is up: "unreachable" would send the operator looking for a stopped one
            problem, when = f"PostgreSQL cannot write ({failure.error})", "once it has room"
        else:
            problem, when = "PostgreSQL is unreachable", "once it is back"
        raise click.ClickException(
            f"{problem}: {spool.pending_records:,} records are safe in the spool "
            f"({get_settings().spool_dir}); run `pwr ingest` (no files) {when} to replay them."
        )


def _logging(level: int) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


@click.command("ingest")
@click.argument(
    "files", nargs=-1, type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "jsonl", "loki"]),
    default="auto",
    show_default=True,
    help="auto: .jsonl/.ndjson/.log are JSON lines, else sniffed (Loki query_range JSON).",
)
@click.option(
    "--batch-size",
    default=10_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Records per database transaction.",
)
@click.option(
    "--drain-timeout",
    default=60.0,
    type=click.FloatRange(min=0),
    show_default=True,
    help="Seconds to wait at the end for PostgreSQL to come back if records had to be spooled.",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML mapping file: read the logs in your bot's own shape (README, Mapping files).",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the first records and the counts per outcome; write nothing."
)
def ingest(
    files: tuple[Path, ...],
    fmt: str,
    batch_size: int,
    drain_timeout: float,
    mapping_file: Path | None,
    dry_run: bool,
) -> None:
    """Backfill voice logs (JSON lines or Loki query_range JSON; .gz too) into pwr_raw.

    Bad lines go to pwr_raw.rejected_voice_events with the reason; re-running a file inserts
    nothing new. Without FILES, only replays records left in the spool by an interrupted run.
    With --mapping, lines in another shape (JSON, logfmt, plain text) are mapped first.
    """
    from pwr_platform.cli.ingest_mapping import check_for, print_dry_run, print_summary
    from pwr_platform.ingest.backfill import ingest_file
    from pwr_platform.ingest.logs import LogFormatError

    _logging(logging.WARNING)
    check, mapper = check_for(mapping_file)  # a bad mapping stops here, before any line is read
    if dry_run:
        print_dry_run(files, fmt, check, mapper)
        return
    url = checked_warehouse()
    spool, writer = _open_writer("ingest", url, batch_size)
    totals = [0, 0, 0, 0]
    try:
        for path in files:
            try:
                if attached():
                    with progress_bar(path.name, path.stat().st_size or 1, count=False) as bar:

                        def position(done: int, size: int, lines: int, bar=bar) -> None:
                            bar.update(done, total=size or 1, note=f"{lines:,} lines")

                        summary = ingest_file(path, writer, fmt=fmt, check=check, position=position)
                else:
                    summary = ingest_file(path, writer, fmt=fmt, progress=_echo_err, check=check)
            except LogFormatError as exc:
                writer.sync()
                before = getattr(exc, "lines_read", 0)
                kept = f"the {before:,} lines before it were ingested" if before else "nothing was ingested"
                raise click.ClickException(f"{exc} ({kept} from this file)") from exc
            print_summary(summary, mapper)
            for i, value in enumerate((summary.read, summary.inserted, summary.duplicates, summary.rejected)):
                totals[i] += value
    finally:
        _close_writer(spool, writer, drain_timeout)
    if len(files) > 1:
        click.echo(
            f"total: read {totals[0]:,}, inserted {totals[1]:,}, duplicates {totals[2]:,}, rejected {totals[3]:,}"
        )
    elif not files:
        click.echo(f"Spool replayed: {writer.stats.replayed:,} records written.")
    if totals[1] or writer.stats.replayed:
        record_writes(
            ["pwr_raw.discord_voice_events"],
            "pwr ingest " + " ".join(p.name for p in files)[:200],
            {"read": totals[0], "inserted": totals[1], "duplicates": totals[2], "rejected": totals[3]},
        )


def _parse_end(value: str | None) -> datetime | None:
    if value is None:
        return None
    from pwr_platform.cli.dates import in_span

    try:
        end = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"not an ISO 8601 date or timestamp: {value!r}", param_hint="--end"
        ) from None
    in_span(end.date(), "--end")
    return end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)


@click.command("simulate")
@click.option("--members", default=300, show_default=True, type=click.IntRange(min=1))
@click.option("--days", default=120, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--end",
    default=None,
    help="End of the simulated period (ISO date/time; no zone = UTC). Default: today 00:00 UTC. "
    "The same seed and --end always give the same data.",
)
@click.option(
    "--guild-id",
    default=None,
    type=click.IntRange(min=1, max=2**63 - 1),
    help="Default: PWR_GUILD_ID, else a fixed demo id.",
)
@click.option("--batch-size", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing when pwr_raw.discord_voice_events already has rows (for `make up` demo seeding).",
)
def simulate(
    members: int, days: int, seed: int, end: str | None, guild_id: int | None, batch_size: int, if_empty: bool
) -> None:
    """Write a deterministic synthetic community (demo data) through the ingestion writer."""
    from pwr_platform.ingest.records import EARLIEST_TS
    from pwr_platform.ingest.simulator import DEFAULT_GUILD_ID, Simulation, SimulationConfig

    _logging(logging.WARNING)
    settings = get_settings()
    kwargs = {"end": _parse_end(end)} if end else {}
    try:  # `end - days` before year 1 is an OverflowError, not a date: said like any early start
        kwargs.get("end", datetime.now(UTC)) - timedelta(days=days)
    except OverflowError:
        raise click.BadParameter(
            f"{days:,} days before the end would start before year 1, long before Discord existed "
            f"({EARLIEST_TS:%Y-%m-%d}): use fewer --days",
            param_hint="--end / --days",
        ) from None
    config = SimulationConfig(
        members=members,
        days=days,
        seed=seed,
        timezone=settings.timezone,
        guild_id=guild_id or settings.guild_id or DEFAULT_GUILD_ID,
        **kwargs,
    )
    if config.start < EARLIEST_TS:
        raise click.BadParameter(
            f"the simulated period would start {config.start:%Y-%m-%d}, before Discord existed "
            f"({EARLIEST_TS:%Y-%m-%d}): use a later --end or fewer --days",
            param_hint="--end / --days",
        )
    url = checked_warehouse()
    if if_empty and _has_voice_events(url):
        # a warehouse with data of its own (a real community's too) never gets demo leagues mixed in
        click.echo("The warehouse already has voice events; not simulating (--if-empty).")
        return
    sim = Simulation(config)
    click.echo(
        f"Simulating {members:,} members over {days} days ending {config.end:%Y-%m-%d %H:%M} UTC "
        f"(seed {seed}, guild {config.guild_id}, {len(sim.events)} scheduled events, "
        f"{len(sim.gaps)} collector gaps) …"
    )
    spool, writer = _open_writer("simulate", url, batch_size)
    started = time.perf_counter()
    next_report = started + 2.0
    try:
        with progress_bar("members", members) if attached() else nullcontext() as bar:
            for record in sim.heartbeats():
                writer.add(record)
            for record in sim.scheduled_event_records():
                writer.add(record)
            for index in range(members):
                for record in sim.member_records(index):
                    writer.add(record)
                if bar is not None:
                    bar.advance()
                elif time.perf_counter() >= next_report:
                    _echo_err(f"  {index + 1:,}/{members:,} members")
                    next_report = time.perf_counter() + 2.0
            writer.sync()
    finally:
        _close_writer(spool, writer, 60.0)
    stats = writer.stats
    for kind in ("voice", "member", "scheduled_event", "heartbeat", "rejected"):
        click.echo(
            f"  {kind:16} {stats.received[kind]:>9,} records: {stats.inserted[kind]:,} inserted, "
            f"{stats.duplicates[kind]:,} already present"
        )
    _demo_dota_league(sim, url)
    click.echo(f"Done in {time.perf_counter() - started:.1f}s.")


def _demo_dota_league(sim, url: str) -> None:
    """The demo Dota league of the simulated members (saved API responses under PWR_HOME/demo/dota)."""
    import psycopg

    from pwr_platform.ingest.dota.demo import load_demo_league

    folder = get_settings().home / "demo" / "dota"
    with psycopg.connect(url) as conn:
        result, links = load_demo_league(conn, sim, folder)
    click.echo(
        f"  dota leagues     {result.stored + result.already_stored:>9,} matches of the demo leagues "
        f"({result.stored:,} new), {links} linked players; files in {folder}"
    )


@click.command("bot")
@click.option(
    "--health",
    is_flag=True,
    help="Judge the running collector's writer from its status file (exit 0 healthy, 1 not) and exit.",
)
@click.option(
    "--list-commands",
    "list_commands",
    is_flag=True,
    help="Print the bot's application commands (/event, /stats, /leaderboard) and exit; needs no token.",
)
@click.option(
    "--sync",
    is_flag=True,
    help="Register the application commands with the guild PWR_GUILD_ID (after a change) and exit.",
)
def bot(health: bool, list_commands: bool, sync: bool) -> None:
    """Run the Discord collector (PWR_DISCORD_TOKEN, PWR_GUILD_ID) until SIGTERM / Ctrl-C.

    Exits 0 after a signal (queue written to PostgreSQL or the spool), 3 when the writer failed
    past PWR_BOT_GIVE_UP_SECONDS (so a supervisor restarts it), 4 if records were lost.
    """
    import asyncio

    from pwr_platform.ingest.bot.client import (
        CommandOptions,
        WriterOptions,
        run_collector,
        use_discord_endpoints,
    )
    from pwr_platform.ingest.bot.config import CollectorConfig
    from pwr_platform.ingest.bot.reader import BotReader
    from pwr_platform.ingest.bot.sync import SyncFailed, listed_commands, sync_commands
    from pwr_platform.ingest.writer import SessionLimits
    from pwr_platform.ingest.writer_status import check, status_path
    from pwr_platform.warehouse.connection import warehouse_url

    settings = get_settings()
    if health:
        healthy, message = check(settings)
        click.echo(message, err=not healthy)
        sys.exit(0 if healthy else 1)
    if list_commands:
        click.echo("\n".join(listed_commands(settings.guild_id)))
        return
    if sync:
        if not settings.discord_token:
            raise click.ClickException(
                "PWR_DISCORD_TOKEN is not set (the bot token; keep it in the environment)"
            )
        if settings.guild_id is None:
            raise click.ClickException("PWR_GUILD_ID is not set (the guild to register the commands with)")
        use_discord_endpoints(settings.discord_api_url, settings.discord_gateway_url)
        try:
            names = asyncio.run(sync_commands(settings.discord_token.get_secret_value(), settings.guild_id))
        except SyncFailed as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Synced {len(names)} commands to guild {settings.guild_id}: {', '.join(names)}")
        return
    if not settings.discord_token:
        raise click.ClickException("PWR_DISCORD_TOKEN is not set (the bot token; keep it in the environment)")
    if settings.guild_id is None:
        raise click.ClickException("PWR_GUILD_ID is not set (the id of the guild to collect)")
    _logging(logging.INFO)
    use_discord_endpoints(settings.discord_api_url, settings.discord_gateway_url)
    config = CollectorConfig(
        guild_id=settings.guild_id,
        include_bots=settings.bot_include_bots,
        members_intent=settings.bot_members_intent,
    )
    options = WriterOptions(
        limits=SessionLimits(
            statement_timeout=settings.writer_statement_timeout_seconds,
            lock_timeout=settings.writer_lock_timeout_seconds,
            tcp_user_timeout=settings.writer_tcp_user_timeout_seconds,
        ),
        max_queue=settings.bot_queue_max,
        give_up_after=settings.bot_give_up_seconds,
        stop_drain_seconds=settings.bot_stop_drain_seconds,
        status_file=status_path(settings.home),
    )
    # The database may be down when the bot starts: records then go to the spool, so the bot does
    # not wait for it (for the embedded server, start it when it is ours to start).
    url = warehouse_url(start=settings.database_url is None)
    click.echo(f"Collector run {config.run_id} for guild {config.guild_id} (SIGTERM or Ctrl-C to stop)")
    import aiohttp
    import discord

    commands = CommandOptions(
        reader=BotReader(secret_value(settings.bot_reader_database_url) or url, timezone=settings.timezone),
        organizer_role_id=settings.organizer_role_id,
    )
    try:
        code = asyncio.run(
            run_collector(
                config, settings.discord_token.get_secret_value(), url, settings.spool_dir, options, commands
            )
        )
    except discord.LoginFailure as exc:
        raise click.ClickException(f"Discord refused the bot token (PWR_DISCORD_TOKEN): {exc}") from None
    except aiohttp.ClientError as exc:  # before the first connection: nothing was collected yet
        raise click.ClickException(
            f"Discord could not be reached: {exc} (check the network; PWR_DISCORD_API_URL / "
            "PWR_DISCORD_GATEWAY_URL when set)"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise click.ClickException(
            "PWR_BOT_MEMBERS_INTENT is on but the members intent is not enabled for this bot in the "
            "Discord developer portal (Bot → Privileged Gateway Intents)"
        ) from None
    if code:
        sys.exit(code)
    click.echo("Collector stopped; queue written.")
