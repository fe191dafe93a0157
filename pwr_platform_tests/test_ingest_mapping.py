"""``pwr ingest --mapping``: the three shipped example shapes (and one inside a Loki answer) run
through the real command into a real PostgreSQL, compared with hand-computed raw rows and
sessions; mapping errors stop the command before a line is read; ``--dry-run`` writes nothing.

Every example sample log tells the same evening (guild 811…111, times UTC):
  19:00 ada joins General · 19:05 bob joins General · 19:10 ada mutes (same channel: skipped)
  19:20 ada moves General → Raid · 19:30 bob deafens (skipped) · 19:45 bob leaves General
  line 7 is broken · line 8 an unknown user joins Raid · 20:15 ada leaves Raid
The JSON and logfmt logs carry milliseconds (ada's join at .250, her move at .750).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from pwr_platform.ingest.mapped_lines import LineMapper
from pwr_platform.ingest.mapping import MappingError, mapping_from_text
from pwr_platform_tests.conftest import REPO_ROOT, run_pwr
from pwr_platform_tests.voice_data import refresh, stored_sessions

EXAMPLES = REPO_ROOT / "examples" / "log-mappings"
GUILD = 811111111111111111
ADA, BOB = 822222222222222001, 822222222222222002
GENERAL, RAID = 833333333333333001, 833333333333333002
MS = timedelta(milliseconds=1)


def utc(hour: int, minute: int, ms: int = 0) -> datetime:
    return datetime(2026, 11, 1, hour, minute, tzinfo=UTC) + ms * MS


def hand_rows(join_ms: int, move_ms: int) -> list[tuple]:
    """(user, event_type, channel, event_ts, from_channel_id, source line number) by hand."""
    return sorted(
        [
            (ADA, "join", GENERAL, utc(19, 0, join_ms), None, 1),
            (BOB, "join", GENERAL, utc(19, 5), None, 2),
            (ADA, "move", RAID, utc(19, 20, move_ms), str(GENERAL), 4),
            (BOB, "leave", GENERAL, utc(19, 45), None, 6),
            (ADA, "leave", RAID, utc(20, 15), None, 9),
        ]
    )


def hand_sessions(join_ms: int, move_ms: int, general: int, raid: int) -> list[tuple]:
    """(user, guild, channel, start, end, whole seconds, completed, close reason) by hand."""
    return [
        (ADA, GUILD, GENERAL, utc(19, 0, join_ms), utc(19, 20, move_ms), general, True, "move"),
        (ADA, GUILD, RAID, utc(19, 20, move_ms), utc(20, 15), raid, True, "leave"),
        (BOB, GUILD, GENERAL, utc(19, 5), utc(19, 45), 2400, True, "leave"),
    ]


# shape → (mapping, sample, quarantine source, reason words for line 7, for line 8, skip reason,
#          rows, sessions). 1200.5 s rounds half up to 1201; 3299.25 s to 3299.
SHAPES = {
    "json-before-after": (
        "json-before-after",
        "mapping",
        "bad JSON",
        "discord_user_id is not a numeric Discord id: 'unknown'",
        "2 same channel before and after (not a voice move)",
        hand_rows(250, 750),
        hand_sessions(250, 750, 1201, 3299),
    ),
    "logfmt": (
        "logfmt",
        "mapping",
        "event_ts is not a number of s (fields.event_ts): 'yesterday'",
        "discord_user_id is not a numeric Discord id: 'unknown'",
        "2 same channel before and after (not a voice move)",
        hand_rows(250, 750),
        hand_sessions(250, 750, 1201, 3299),
    ),
    "plain-text": (
        "plain-text",
        "mapping",
        "the line does not match the mapping's pattern",
        "fields.discord_user_id.map has no entry for the value: 'mallory'",
        "1 event type 'muted' (in event_type.skip); 1 event type 'deafened' (in event_type.skip)",
        hand_rows(0, 0),
        hand_sessions(0, 0, 1200, 3300),
    ),
    "logfmt-in-loki": (
        "logfmt",
        "loki+mapping",
        "event_ts is not a number of s (fields.event_ts): 'yesterday'",
        "discord_user_id is not a numeric Discord id: 'unknown'",
        "2 same channel before and after (not a voice move)",
        hand_rows(250, 750),
        hand_sessions(250, 750, 1201, 3299),
    ),
}


def settings(url: str, tmp_path: Path) -> dict[str, str]:
    return {"PWR_DATABASE_URL": url, "PWR_HOME": str(tmp_path / "home")}


def query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def as_loki(lines: list[str], path: Path) -> Path:
    """The lines as Loki's query_range answer (one stream, nanosecond stamps) — the Loki reader's input."""
    values = [[str(1_793_559_600_000_000_000 + i), line] for i, line in enumerate(lines)]
    answer = {
        "status": "success",
        "data": {"resultType": "streams", "result": [{"stream": {}, "values": values}]},
    }
    path.write_text(json.dumps(answer))
    return path


def sample_input(shape: str, tmp_path: Path) -> tuple[Path, Path, list[str], str]:
    """(mapping file, log file, the log's lines, source_ref of line n without n)."""
    name = SHAPES[shape][0]
    sample = EXAMPLES / f"{name}.sample.log"
    lines = sample.read_text().splitlines()
    if shape == "logfmt-in-loki":
        log = as_loki(lines, tmp_path / "answer.json")
        return EXAMPLES / f"{name}.yaml", log, lines, f"{log.resolve()}#"
    return EXAMPLES / f"{name}.yaml", sample, lines, f"{sample.resolve()}:"


@pytest.mark.parametrize("shape", list(SHAPES))
def test_example_shape_ingests_to_hand_computed_rows_and_sessions_and_a_rerun_inserts_nothing(
    shape: str, warehouse_url: str, tmp_path: Path
) -> None:
    _, source, line7, line8, skipped, rows, sessions = SHAPES[shape]
    mapping, log, lines, ref = sample_input(shape, tmp_path)
    env = settings(warehouse_url, tmp_path)

    first = run_pwr(env, "ingest", "--mapping", str(mapping), str(log), timeout=120)
    assert first.returncode == 0, first.stderr
    line_format = {"json-before-after": "json", "logfmt": "logfmt", "plain-text": "regex"}[SHAPES[shape][0]]
    reader = "Loki answer, " if shape.endswith("loki") else ""
    assert (
        f"{log} ({reader}{line_format} lines via the mapping): "
        "read 7, inserted 5, duplicates 0, rejected 2 (2 new in quarantine)"
    ) in first.stdout
    assert f"skipped 2 line(s) that are not voice moves: {skipped}" in first.stdout

    stored = query(
        warehouse_url,
        "SELECT discord_user_id, event_type, discord_channel_id, event_ts, raw_payload->>'from_channel_id',"
        " raw_payload->>'log_line', discord_guild_id FROM pwr_raw.discord_voice_events ORDER BY 1, 2, 3, 4",
    )
    # Every row as computed by hand, the original line kept whole in raw_payload.
    assert [r[:5] for r in stored] == [r[:5] for r in rows]
    assert [r[5] for r in stored] == [lines[r[5] - 1] for r in rows]
    assert {r[6] for r in stored} == {GUILD}
    names = query(warehouse_url, "SELECT DISTINCT raw_payload->>'username' FROM pwr_raw.discord_voice_events")
    assert sorted(n for (n,) in names) == ["ada", "bob"]  # what pwr_core.members reads

    quarantined = query(
        warehouse_url,
        "SELECT source, source_ref, raw_text, reason FROM pwr_raw.rejected_voice_events ORDER BY 2",
    )
    assert [(q[0], q[1], q[2]) for q in quarantined] == [
        (source, f"{ref}7", lines[6]),
        (source, f"{ref}8", lines[7]),
    ]
    assert line7 in quarantined[0][3] and line8 in quarantined[1][3], quarantined

    refresh(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        assert stored_sessions(conn) == sessions

    again = run_pwr(env, "ingest", "--mapping", str(mapping), str(log), timeout=120)
    assert again.returncode == 0, again.stderr
    assert "read 7, inserted 0, duplicates 5, rejected 2 (0 new in quarantine)" in again.stdout
    assert query(warehouse_url, "SELECT count(*) FROM pwr_raw.discord_voice_events") == [(5,)]
    assert query(warehouse_url, "SELECT count(*) FROM pwr_raw.rejected_voice_events") == [(2,)]


BASE = """\
format: json
fields:
  event_ts: ts
  discord_guild_id: guild
  discord_user_id: user
"""
# Broken mapping → the key its error must name, and words of the message.
BAD_MAPPINGS = {
    "unknown field": (
        BASE + "  discord_usr_id: user\nevent_type: {before: b, after: a}\n",
        "fields.discord_usr_id: unknown field",
    ),
    "unknown key in a field": (
        BASE + "  username: {from: name, strip_prefx: '@'}\nevent_type: {before: b, after: a}\n",
        "fields.username.strip_prefx: unknown key",
    ),
    "bad regex": (
        BASE.replace("format: json", "format: regex\npattern: '(?P<ts>\\d+'")
        + "event_type: {before: b, after: a}\n",
        "pattern: bad regex: missing ), unterminated subpattern",
    ),
    "source not a regex group": (
        BASE.replace("format: json", "format: regex\npattern: '(?P<ts>\\S+) (?P<guild>\\d+) (?P<user>\\d+)'")
        + "event_type: {before: b, after: a}\n",
        "event_type.before.from: 'b' is not a named group of the pattern",
    ),
    "missing event-type rule": (BASE, "event_type: required key is missing"),
    "event-type rule without its map": (
        BASE + "  discord_channel_id: channel\nevent_type: {from: action}\n",
        "event_type: `from` needs a `map`",
    ),
    "event-type map to an unknown type": (
        BASE + "  discord_channel_id: channel\nevent_type: {from: action, map: {joined: joins}}\n",
        "event_type.map: 'joined' maps to 'joins'",
    ),
    "text time without a zone": (
        BASE.replace("event_ts: ts", "event_ts: {from: ts, format: '%Y-%m-%d %H:%M'}")
        + "event_type: {before: b, after: a}\n",
        "fields.event_ts.format: has no %z",
    ),
    "not YAML": ("format: json\nfields: [\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", list(BAD_MAPPINGS))
def test_every_mapping_error_names_its_key(case: str) -> None:
    text, expected = BAD_MAPPINGS[case]
    with pytest.raises(MappingError) as raised:
        mapping_from_text(text, "test mapping")
    assert expected in str(raised.value) and str(raised.value).startswith("test mapping: ")


@pytest.mark.parametrize("case", ["unknown field", "bad regex", "missing event-type rule"])
def test_pwr_ingest_reports_a_mapping_error_before_any_line_is_read_naming_the_key(
    case: str, warehouse_url: str, tmp_path: Path
) -> None:
    text, expected = BAD_MAPPINGS[case]
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(text)
    # A FIFO with no writer: opening it to read blocks forever, so a command that read any line
    # (or even opened the log) would hang here and fail on the timeout.
    log = tmp_path / "voice.log"
    os.mkfifo(log)
    result = run_pwr(
        settings(warehouse_url, tmp_path), "ingest", "--mapping", str(mapping), str(log), timeout=120
    )
    assert result.returncode == 1
    assert f"Error: {mapping}: invalid mapping" in result.stderr and expected in result.stderr, result.stderr
    assert "no log line was read" in result.stderr
    assert "Traceback" not in result.stderr
    assert query(warehouse_url, "SELECT count(*) FROM pwr_raw.discord_voice_events") == [(0,)]


def test_dry_run_prints_first_records_and_counts_per_outcome_and_touches_nothing(
    warehouse_url: str, tmp_path: Path
) -> None:
    mapping, log = EXAMPLES / "plain-text.yaml", EXAMPLES / "plain-text.sample.log"
    env = settings(warehouse_url, tmp_path)
    result = run_pwr(env, "ingest", "--mapping", str(mapping), "--dry-run", str(log), timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "first 5 record(s) it would write:"
    assert out[1].startswith(
        f"  2026-11-01T19:00:00+00:00 join  guild {GUILD} user {ADA} channel {GENERAL}  {{"
    )
    assert out[3].startswith(f"  2026-11-01T19:20:00+00:00 move  guild {GUILD} user {ADA} channel {RAID}")
    assert out[6:] == [
        "would write 5 voice record(s) (rows already stored count as duplicates then)",
        "skipped 2 line(s) that are not voice moves",
        "  1  event type 'muted' (in event_type.skip)",
        "  1  event type 'deafened' (in event_type.skip)",
        "would quarantine 2 line(s)",
        f"  1  the line does not match the mapping's pattern (first: {log.resolve()}:7)",
        f"  1  fields.discord_user_id.map has no entry for the value (first: {log.resolve()}:8)",
        "dry run: nothing was written",
    ]
    for table in ("discord_voice_events", "rejected_voice_events"):
        assert query(warehouse_url, f"SELECT count(*) FROM pwr_raw.{table}") == [(0,)]
    assert not (tmp_path / "home").exists()  # no spool, no embedded server, no secrets

    # It never connects: the same dry run against a database that cannot be reached.
    unreachable = settings("postgresql://nobody@127.0.0.1:1/none", tmp_path)
    blind = run_pwr(unreachable, "ingest", "--mapping", str(mapping), "--dry-run", str(log), timeout=60)
    assert blind.returncode == 0 and blind.stdout == result.stdout, blind.stderr


def mapper(text: str) -> LineMapper:
    return LineMapper(mapping_from_text(text, "test mapping"))


EPOCH_MAPPING = """\
format: logfmt
fields:
  event_ts: {from: ts, epoch: %s}
  discord_guild_id: g
  discord_user_id: u
event_type: {before: b, after: a}
"""


@pytest.mark.parametrize(
    ("unit", "stamp"),
    [
        ("s", "1793559600.25"),
        ("ms", "1793559600250"),
        ("us", "1793559600250000"),
        ("ns", "1793559600250000000"),
        ("ns", "1793559600250000999"),  # below a microsecond: truncated, never rounded up
    ],
)
def test_every_epoch_unit_gives_the_same_instant(unit: str, stamp: str) -> None:
    record = mapper(EPOCH_MAPPING % unit).check(
        f"ts={stamp} g={GUILD} u={ADA} b= a={GENERAL}", "jsonl", "x:1"
    )
    assert record.KIND == "voice" and record.event_ts == utc(19, 0, 250), record


def test_mapped_lines_obey_the_native_validation_rules() -> None:
    check = mapper(EPOCH_MAPPING % "s").check
    cases = {
        f"ts=0 g={GUILD} u={ADA} b= a={GENERAL}": "impossible time for a Discord event",
        f"ts=1793559600 g={GUILD} u=-5 b= a={GENERAL}": "discord_user_id is not a numeric Discord id",
        f"ts=1793559600 g={GUILD} b= a={GENERAL}": "missing required field(s): discord_user_id",
        f"ts=1793559600 g={GUILD} u={ADA} b= a=": "no channel before nor after",
        f"ts=nan g={GUILD} u={ADA} b= a={GENERAL}": "event_ts is not a number of s",
    }
    for line, words in cases.items():
        record = check(line, "jsonl", "x:1")
        assert record.KIND == "rejected" and words in record.reason and record.raw_text == line, record


def test_strip_prefix_then_map_and_unmapped_values_kept_when_asked() -> None:
    check = mapper(
        """\
format: json
fields:
  event_ts: {from: at, timezone: UTC}
  discord_guild_id: {value: 811111111111111111}
  discord_user_id: {from: who.0.id, strip_prefix: "user:"}
  discord_channel_id: {from: room, strip_prefix: "#", map: {General: 833333333333333001}, unmapped: keep}
event_type: {from: what, map: {"on": join, "off": leave}}
"""
    ).check
    mapped = check(
        json.dumps(
            {"at": "2026-11-01T19:00:00", "who": [{"id": f"user:{ADA}"}], "room": "#General", "what": "on"}
        ),
        "jsonl",
        "x:1",
    )
    kept = check(
        json.dumps(
            {"at": "2026-11-01T19:00:00", "who": [{"id": f"user:{ADA}"}], "room": f"#{RAID}", "what": "off"}
        ),
        "jsonl",
        "x:2",
    )
    assert (mapped.event_type, mapped.user_id, mapped.channel_id, mapped.event_ts) == (
        "join",
        ADA,
        GENERAL,
        utc(19, 0),
    )
    assert (kept.event_type, kept.channel_id) == ("leave", RAID)
