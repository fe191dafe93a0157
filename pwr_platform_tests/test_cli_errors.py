"""A user error never ends in a traceback: every ``pwr`` command, tried as a new user would.

Each case runs the real ``pwr`` (``conftest.run_pwr``) with one mistake — a missing, empty or
wrong file, a file with one bad row in the middle, an option value out of range, a malformed
setting, a warehouse that is down or not migrated, Superset or Discord not answering — and
asserts the exit code, that no traceback reached the terminal, and that the message names what
is wrong (the file, its row and field, the option or the variable) and, for operational failures,
what to do. The Discord commands are driven through the local gateway against the real
``pwr bot`` with its reader database down or not migrated.

Each case is one short process (no Dagster run): the checks happen before any work starts.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from pwr_platform_tests.conftest import create_database, drop_database, run_pwr
from pwr_platform_tests.discord_gateway import MANAGE_EVENTS, guild, local_discord, member, option
from pwr_platform_tests.test_collector_fault_drills import BotProcess

HEADER = (
    "external_event_id,name,event_type,description,scheduled_start_ts,scheduled_end_ts,"
    "actual_start_ts,actual_end_ts,host_discord_user_id,channel_ids,status\n"
)
VOICE = {
    "event_ts": "2026-11-02T19:00:00Z",
    "discord_guild_id": 811,
    "discord_user_id": 822,
    "discord_channel_id": 833,
    "event_type": "join",
}


def write_files(folder: Path) -> None:
    """The files a new user gets wrong: empty, a directory, not UTF-8, one bad row in the middle."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("empty.csv", "empty.yaml", "empty.jsonl"):
        (folder / name).write_text("")
    for name in ("folder.csv", "folder.jsonl", "folder.yaml"):
        (folder / name).mkdir(exist_ok=True)
    (folder / "a-file").write_text("not a directory\n")
    (folder / "home-with-a-folder-for-a-secret" / "secrets" / "superset_admin_password").mkdir(
        parents=True, exist_ok=True
    )
    (folder / "good.csv").write_text(HEADER + "x-1,Scrim,,,2026-11-02T19:00:00Z,,,,,,\n")
    (folder / "badrow.csv").write_text(
        HEADER
        + "x-1,Scrim,,,2026-11-02T19:00:00Z,,,,,,\n"
        + "x-2,Inhouse,,,not-a-date,,,,,,\n"
        + "x-3,Meeting,,,2026-11-03T19:00:00Z,,,,,,\n"
    )
    (folder / "latin1.csv").write_bytes(
        HEADER.encode() + "x-1,Café,,,2026-11-02T19:00:00Z,,,,,,\n".encode("latin-1")
    )
    entry = "- external_event_id: {id}\n  name: {name}\n  scheduled_start_ts: '{ts}'\n"
    (folder / "badrow.yaml").write_text(
        entry.format(id="x-1", name="A", ts="2026-11-02T19:00:00Z")
        + entry.format(id="x-2", name="B", ts="tomorrow")
        + entry.format(id="x-3", name="C", ts="2026-11-03T19:00:00Z")
    )
    (folder / "syntax.yaml").write_text(
        entry.format(id="x-1", name="A", ts="2026-11-02T19:00:00Z")
        + entry.format(id="x-2", name="[B", ts="2026-11-02T19:00:00Z")
    )
    (folder / "badrow.jsonl").write_text(
        json.dumps(VOICE) + "\n{not json\n" + json.dumps(VOICE | {"event_ts": "2026-11-02T19:05:00Z"}) + "\n"
    )
    (folder / "syntax-mapping.yaml").write_text("format: logfmt\nfields:\n  event_ts: {from: ts, epoch: s\n")
    (folder / "badfield-mapping.yaml").write_text(
        "format: logfmt\nfields:\n  event_ts: {from: ts, epoch: s}\n  colour: red\n"
        "event_type:\n  before: before\n  after: after\n"
    )


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Places:
    files: Path
    home: Path
    migrated: str
    empty: str
    closed: str
    taken: int  # a port another program listens on


@pytest.fixture(scope="module")
def places(
    pg_server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Places]:
    root = tmp_path_factory.mktemp("cli-errors")
    write_files(root / "files")
    suffix = uuid.uuid4().hex[:10]
    migrated = create_database(pg_server_url, f"pwr_test_clierr_{suffix}", template=template_db)
    empty = create_database(pg_server_url, f"pwr_test_clierr_empty_{suffix}")
    closed = f"postgresql://postgres@127.0.0.1:{closed_port()}/pwr"
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        yield Places(root / "files", root / "home", migrated, empty, closed, other_program.getsockname()[1])
    drop_database(pg_server_url, f"pwr_test_clierr_{suffix}")
    drop_database(pg_server_url, f"pwr_test_clierr_empty_{suffix}")


@dataclass(frozen=True)
class Case:
    """One mistake: the warehouse to run against, the settings, the command, what must be said."""

    args: tuple[str, ...]
    says: tuple[str, ...]
    exit_code: int = 1
    warehouse: str = "migrated"  # migrated | empty | closed
    settings: dict[str, str] = field(default_factory=dict)
    on_stdout: bool = False  # ingest reports rejected lines in its summary (exit 0 by design)


CASES = {
    # -- settings ------------------------------------------------------------------------------
    "a port setting that is not a number": Case(
        ("db", "url"), ("PWR_DB_PORT", "valid integer", "'abc'"), settings={"PWR_DB_PORT": "abc"}
    ),
    "an unknown time zone": Case(
        ("digest", "--dry-run"),
        ("PWR_TIMEZONE='Mars/Phobos' is not an IANA time zone name",),
        settings={"PWR_TIMEZONE": "Mars/Phobos"},
    ),
    "a database URL that is no URL (events)": Case(
        ("events", "complete", "x-1"),
        ("PWR_DATABASE_URL is not a PostgreSQL URL", "postgresql://"),
        settings={"PWR_DATABASE_URL": "warehouse-on-localhost"},
    ),
    "a database URL that is no URL (db status)": Case(
        ("db", "status"),
        ("PWR_DATABASE_URL is not a PostgreSQL URL",),
        settings={"PWR_DATABASE_URL": "warehouse-on-localhost"},
    ),
    "a reader URL of another scheme": Case(
        ("bot", "--list-commands"),
        ("PWR_BOT_READER_DATABASE_URL is not a PostgreSQL URL",),
        settings={"PWR_BOT_READER_DATABASE_URL": "mysql://reader@db/pwr"},
    ),
    "a date setting that is no date": Case(
        ("materialize",),
        ("PWR_PARTITIONS_START", "'2024-13-01'"),
        settings={"PWR_PARTITIONS_START": "2024-13-01"},
    ),
    "a PWR_HOME that is a file": Case(
        ("status",),
        ("PWR_HOME=", "a-file' is a file; it must be a directory"),
        settings={"PWR_HOME": "{files}/a-file"},
    ),
    "a directory where a secret file belongs": Case(
        ("superset", "login"),
        ("home-with-a-folder-for-a-secret/secrets/superset_admin_password: Is a directory",),
        settings={"PWR_HOME": "{files}/home-with-a-folder-for-a-secret"},
    ),
    # -- option values -------------------------------------------------------------------------
    "digest of a week in year 1": Case(
        ("digest", "--week", "0001-01-01", "--dry-run"), ("--week", "0001-01-01"), 2
    ),
    "digest of a week in 9999": Case(
        ("digest", "--week", "9999-12-31", "--dry-run"), ("--week", "9999-12-31"), 2
    ),
    "digest of a day that does not exist": Case(
        ("digest", "--week", "2026-02-30"), ("--week", "'2026-02-30'"), 2
    ),
    "materialize days in 9999": Case(
        ("materialize", "--from", "9999-12-30", "--to", "9999-12-31"),
        ("--from", "9999-12-30", "2099-12-31"),
        2,
    ),
    "materialize a reversed range": Case(
        ("materialize", "--from", "2026-02-03", "--to", "2026-02-01"), ("--to is before --from",), 2
    ),
    "simulate up to 9999": Case(("simulate", "--end", "9999-12-31"), ("--end", "9999-12-31"), 2),
    "simulate a billion days": Case(
        ("simulate", "--days", "999999999"),
        ("--end / --days", "999,999,999 days", "before Discord existed"),
        2,
    ),
    "simulate an end that is no date": Case(
        ("simulate", "--end", "2026-13-45"), ("--end", "'2026-13-45'"), 2
    ),
    "simulate a negative guild id": Case(
        ("simulate", "--guild-id", "-5", "--members", "1", "--days", "1"), ("--guild-id", "-5"), 2
    ),
    "simulate a guild id over BIGINT": Case(
        ("simulate", "--guild-id", "99999999999999999999", "--members", "1", "--days", "1"),
        ("--guild-id",),
        2,
    ),
    "simulate batches of zero": Case(("simulate", "--batch-size", "0"), ("--batch-size", "0"), 2),
    "complete an event at no time": Case(
        ("events", "complete", "x-1", "--at", "yesterday"), ("--at", "'yesterday'"), 2
    ),
    "complete an unknown event": Case(("events", "complete", "nope"), ("No event 'nope'",)),
    "an unknown migration revision": Case(
        ("db", "upgrade", "--revision", "bogus"), ("Can't locate revision", "'bogus'"), warehouse="empty"
    ),
    "logs of an unknown service": Case(("logs", "postgres-x"), ("unknown service 'postgres-x'",), 2),
    # -- the warehouse down or not migrated ----------------------------------------------------
    "materialize on a warehouse without schema": Case(
        ("materialize",), ("no schema yet", "pwr db upgrade"), warehouse="empty"
    ),
    "materialize with the warehouse down": Case(
        ("materialize",), ("Connection refused",), warehouse="closed"
    ),
    "events import without schema": Case(
        ("events", "import", "{files}/good.csv"), ("no schema yet", "pwr db upgrade"), warehouse="empty"
    ),
    "events complete with the warehouse down": Case(
        ("events", "complete", "x-1"), ("warehouse unreachable", "Connection refused"), warehouse="closed"
    ),
    "digest without schema": Case(
        ("digest", "--dry-run"), ("no schema yet", "pwr db upgrade"), warehouse="empty"
    ),
    "ingest with the warehouse down": Case(
        ("ingest", "{files}/badrow.jsonl"), ("warehouse unreachable",), warehouse="closed"
    ),
    "db current with the warehouse down": Case(
        ("db", "current"), ("cannot reach PostgreSQL",), warehouse="closed"
    ),
    # -- a port taken by another program: said before any work starts --------------------------
    "superset start with its port taken": Case(
        ("superset", "start"),
        ("superset: 127.0.0.1:{taken} is taken by another program", "PWR_SUPERSET_PORT"),
        warehouse="closed",  # the port is checked first; were it not, nothing would start either
        settings={"PWR_SUPERSET_PORT": "{taken}"},
    ),
    "up with the Dagster UI's port taken": Case(
        ("up", "--no-demo"),
        ("dagster-webserver: 127.0.0.1:{taken} is taken", "PWR_DAGSTER_PORT"),
        warehouse="closed",
        settings={"PWR_DAGSTER_PORT": "{taken}"},
    ),
    "up with the code server's port taken": Case(
        ("up",),
        ("dagster-code-server: 127.0.0.1:{taken} is taken", "PWR_CODE_SERVER_PORT"),
        warehouse="closed",
        settings={"PWR_CODE_SERVER_PORT": "{taken}"},
    ),
    # -- Superset not running ------------------------------------------------------------------
    "superset import with Superset down": Case(
        ("superset", "import"), ("Superset does not answer at http://127.0.0.1:", "pwr superset start")
    ),
    "superset export with Superset down": Case(
        ("superset", "export"), ("Superset does not answer at http://127.0.0.1:", "pwr superset start")
    ),
    # -- files ---------------------------------------------------------------------------------
    "events import of a missing file": Case(
        ("events", "import", "{files}/nope.csv"), ("nope.csv", "does not exist"), 2
    ),
    "events import of a directory": Case(
        ("events", "import", "{files}/folder.csv"), ("folder.csv", "is a directory"), 2
    ),
    "events import of an empty CSV": Case(
        ("events", "import", "{files}/empty.csv"), ("empty.csv", "the file is empty")
    ),
    "events import of an empty YAML": Case(
        ("events", "import", "{files}/empty.yaml"), ("empty.yaml", "the file is empty")
    ),
    "events import, one bad CSV row": Case(
        ("events", "import", "{files}/badrow.csv"),
        ("badrow.csv", "line 3 (x-2), field scheduled_start_ts", "'not-a-date'", "nothing imported"),
    ),
    "events import, one bad YAML entry": Case(
        ("events", "import", "{files}/badrow.yaml"),
        ("badrow.yaml", "entry 2 (x-2), field scheduled_start_ts"),
    ),
    "events import, a YAML syntax error": Case(
        ("events", "import", "{files}/syntax.yaml"), ("syntax.yaml", "not valid YAML", "line 5")
    ),
    "events import of Latin-1 text": Case(
        ("events", "import", "{files}/latin1.csv"), ("latin1.csv", "not UTF-8")
    ),
    "ingest of a missing file": Case(("ingest", "{files}/nope.jsonl"), ("nope.jsonl", "does not exist"), 2),
    "ingest of a directory": Case(("ingest", "{files}/folder.jsonl"), ("folder.jsonl", "is a directory"), 2),
    "ingest of an empty file": Case(("ingest", "{files}/empty.jsonl"), ("empty.jsonl", "the file is empty")),
    "ingest, one bad line in the middle": Case(
        ("ingest", "{files}/badrow.jsonl"),
        ("inserted 2", "rejected 1", "badrow.jsonl:2: bad JSON", "pwr_raw.rejected_voice_events"),
        0,
        on_stdout=True,
    ),
    "ingest --dry-run of an empty file": Case(
        ("ingest", "--dry-run", "{files}/empty.jsonl"), ("empty.jsonl", "nothing was written")
    ),
    "ingest with a missing mapping": Case(
        ("ingest", "--mapping", "{files}/nope.yaml", "{files}/badrow.jsonl"), ("--mapping", "nope.yaml"), 2
    ),
    "ingest with a directory as mapping": Case(
        ("ingest", "--mapping", "{files}/folder.yaml", "{files}/badrow.jsonl"),
        ("folder.yaml", "is a directory"),
        2,
    ),
    "ingest with an empty mapping": Case(
        ("ingest", "--mapping", "{files}/empty.yaml", "{files}/badrow.jsonl"),
        ("empty.yaml", "format, fields and event_type", "no log line was read"),
    ),
    "ingest with a mapping YAML error": Case(
        ("ingest", "--mapping", "{files}/syntax-mapping.yaml", "{files}/badrow.jsonl"),
        ("syntax-mapping.yaml", "not valid YAML"),
    ),
    "ingest --dry-run with an unknown mapping field": Case(
        ("ingest", "--dry-run", "--mapping", "{files}/badfield-mapping.yaml", "{files}/badrow.jsonl"),
        ("badfield-mapping.yaml", "fields.colour", "unknown field"),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_a_mistake_gets_one_clear_message_and_no_traceback(case: Case, places: Places) -> None:
    def filled(text: str) -> str:
        return text.replace("{files}", str(places.files)).replace("{taken}", str(places.taken))

    settings = {
        "PWR_HOME": str(places.home),
        "PWR_DATABASE_URL": getattr(places, case.warehouse),
        "PWR_SUPERSET_URL": f"http://127.0.0.1:{closed_port()}",
        **{k: filled(v) for k, v in case.settings.items()},
    }
    args = [filled(a) for a in case.args]
    result = run_pwr(settings, *args, timeout=120)
    shown = result.stdout + result.stderr if case.on_stdout else result.stderr
    assert result.returncode == case.exit_code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    for words in map(filled, case.says):
        assert words in shown, f"{words!r} not in:\n{shown}"
    if case.exit_code:
        # one message, not a log: the error and at most a usage hint and the problems it lists
        assert result.stderr.count("Error:") <= 1, result.stderr


def test_ingest_names_every_reason_with_its_first_line(places: Places) -> None:
    """A file of another kind (the events CSV given to ``pwr ingest``) is quarantined line by
    line, and the summary says why, with the first line of each reason."""
    result = run_pwr(
        {"PWR_HOME": str(places.home), "PWR_DATABASE_URL": places.migrated},
        "ingest",
        str(places.files / "good.csv"),
        str(places.files / "badrow.jsonl"),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"{places.files / 'good.csv'}:1: bad JSON" in result.stdout
    with psycopg.connect(places.migrated) as conn:
        stored = conn.execute(
            "SELECT source_ref, reason FROM pwr_raw.rejected_voice_events ORDER BY source_ref"
        ).fetchall()
    refs = [ref for ref, _ in stored]
    assert f"{places.files / 'good.csv'}:1" in refs and f"{places.files / 'badrow.jsonl'}:2" in refs


# -- the Discord commands ------------------------------------------------------------------------------

GUILD_ID = 9100
GENERAL = 9101
ORGANIZER_ID = 9201
ORGANIZER = member(ORGANIZER_ID, "ada")


@pytest.fixture(scope="module")
def bots(places: Places, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One real ``pwr bot`` per reader state, behind one local Discord each; started on first use."""
    running: dict = {}

    def bot_for(reader: str):
        if reader not in running:
            payload = guild(GUILD_ID, voice_channels=[(GENERAL, 2, "General")], members=[ORGANIZER])
            gateway = local_discord(payload)
            discord = gateway.__enter__()
            home = tmp_path_factory.mktemp(f"bot-{reader}")
            url = {"down": places.closed, "unmigrated": places.empty}[reader]
            bot = BotProcess(discord, home, places.migrated, PWR_BOT_READER_DATABASE_URL=url).start()
            running[reader] = (gateway, discord, bot)
            discord.wait_connected()
            bot.wait_ready()
        return running[reader][1], running[reader][2]

    yield bot_for
    for gateway, _, bot in running.values():
        bot.kill()
        gateway.__exit__(None, None, None)


@dataclass(frozen=True)
class Command:
    reader: str  # down | unmigrated
    name: str
    options: list = field(default_factory=list)
    subcommand: str | None = None
    says: tuple[str, ...] = ()
    in_voice: bool = False


COMMANDS = {
    "/leaderboard with a period it does not take": Command(
        "down", "leaderboard", [option("period", "year")], says=("`year` is not a valid `period`", "`week`")
    ),
    "/stats with the reader database down": Command(
        "down", "stats", says=("Stats are unavailable right now", "the warehouse could not be read")
    ),
    "/stats on a warehouse without schema": Command(
        "unmigrated", "stats", says=("Stats are unavailable right now", "no schema yet", "pwr db upgrade")
    ),
    "/leaderboard on a warehouse without schema": Command(
        "unmigrated", "leaderboard", says=("The leaderboard is unavailable right now", "pwr db upgrade")
    ),
    "/event end of an unknown event, reader down": Command(
        "down",
        "event",
        [option("event", "Nope")],
        "end",
        ("No event **Nope** is known", "Nothing was recorded", "Checked against this bot's own records only"),
    ),
    "/event start with a name of 3,000 characters": Command(
        "down",
        "event",
        [option("event", "S" * 3000)],
        "start",
        ("The event name is 3,000 characters long", "at most 100", "Nothing was recorded"),
        in_voice=True,
    ),
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=list(COMMANDS))
def test_a_bad_discord_command_gets_a_clear_reply(command: Command, bots, places: Places) -> None:
    discord, bot = bots(command.reader)
    log_before = len(bot.log())
    if command.in_voice:
        discord.wait_processed(discord.dispatch_voice(ORGANIZER_ID, "ada", GENERAL))
    reply = discord.run_command(
        ORGANIZER, command.name, command.options, subcommand=command.subcommand, permissions=MANAGE_EVENTS
    )
    for words in command.says:
        assert words in reply["content"], reply
    assert "failed inside the bot" not in reply["content"]
    assert "Traceback" not in bot.log()[log_before:]  # an input error is a line in the log, not a stack
    with psycopg.connect(places.migrated) as conn:
        assert conn.execute("SELECT count(*) FROM pwr_raw.discord_event_commands").fetchone()[0] == 0
