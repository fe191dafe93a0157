"""Issue 13, promises 8–10 on the ingest side: time is sane, lines are bounded, Loki answers are
understood. Each test feeds the real ``pwr ingest`` (or the record builders every path uses) the
bad input and asserts what was stored, what was quarantined and what was said."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ijson
import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pwr_platform.cli import main
from pwr_platform.ingest.long_lines import LongStringGuard
from pwr_platform.ingest.records import (
    KEPT_BYTES,
    MAX_LINE_BYTES,
    ChannelRecord,
    HeartbeatRecord,
    Horizon,
    InvalidRecord,
    MemberRecord,
    ScheduledEventRecord,
    VoiceRecord,
    parse_voice_line,
    voice_payload,
)
from pwr_platform.settings import get_settings
from pwr_platform.transforms.sessionizer import refresh_voice_sessions
from pwr_platform_tests.conftest import run_pwr
from pwr_platform_tests.test_ingest import BAD_LINES, GOOD_RECORDS, good, table, write_jsonl

GUILD = 811111111111111111
BEFORE_DISCORD = datetime(2014, 12, 31, 23, 59, tzinfo=UTC)


@pytest.fixture
def pwr(warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``pwr`` in-process against this test's warehouse: (exit code, output)."""
    monkeypatch.setenv("PWR_DATABASE_URL", warehouse_url)
    monkeypatch.setenv("PWR_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args))
        # A user error ends in a message and an exit code, never in an exception.
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result.exit_code, result.output

    yield run
    get_settings.cache_clear()


def raw_counts(url: str) -> tuple[int, int]:
    [(voice, rejected)] = table(
        url,
        "SELECT (SELECT count(*) FROM pwr_raw.discord_voice_events),"
        " (SELECT count(*) FROM pwr_raw.rejected_voice_events)",
    )
    return voice, rejected


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- promise 8: time
def test_2099_timestamp_is_quarantined_and_cannot_time_out_open_sessions(pwr, warehouse_url, tmp_path):
    now = datetime.now(UTC)
    joined = good(1, ts=iso(now - timedelta(hours=1)))
    near = good(2, ts=iso(now + timedelta(minutes=1)))  # a fast clock: within the 5 min tolerance
    typo = good(3, ts="2099-11-01T19:00:00Z")
    ahead = good(4, ts=iso(now + timedelta(minutes=30)))
    path = tmp_path / "voice.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (joined, near, typo, ahead)))

    code, out = pwr("ingest", str(path))
    assert code == 0 and "read 4, inserted 2, duplicates 0, rejected 2" in out
    reasons = dict(table(warehouse_url, "SELECT raw_text, reason FROM pwr_raw.rejected_voice_events"))
    assert "is in the future" in reasons[json.dumps(typo)] and "2099-11-01" in reasons[json.dumps(typo)]
    assert "is in the future" in reasons[json.dumps(ahead)]
    [(newest,)] = table(warehouse_url, "SELECT max(event_ts) FROM pwr_raw.discord_voice_events")
    assert newest <= datetime.now(UTC) + timedelta(minutes=5)

    # The guild's data clock is its newest raw event: with the 2099 row refused, the session
    # opened an hour ago is still open (had the clock jumped to 2099, it would be a 'timeout').
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        refresh_voice_sessions(conn, max_session_hours=12, collector_gap_minutes=3)
        rows = conn.execute(
            "SELECT m.discord_user_id, s.session_end_ts, s.close_reason FROM pwr_core.voice_sessions s "
            "JOIN pwr_core.members m USING (member_id) ORDER BY 1"
        ).fetchall()
    assert rows == [(int(joined["discord_user_id"]), None, None), (int(near["discord_user_id"]), None, None)]


def test_horizon_reads_the_clock_again_before_refusing() -> None:
    noon, one = datetime(2026, 11, 1, 12, 0, tzinfo=UTC), datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
    ticks = iter([noon, one, one])
    horizon = Horizon(clock=lambda: next(ticks))
    horizon.check(datetime(2026, 11, 1, 12, 5, tzinfo=UTC))  # at the limit
    horizon.check(datetime(2026, 11, 1, 12, 30, tzinfo=UTC))  # past it, but the clock moved on
    with pytest.raises(InvalidRecord, match="is in the future"):
        horizon.check(datetime(2026, 11, 1, 13, 6, tzinfo=UTC))


def _records_at(ts: datetime) -> dict[str, object]:
    """Every record builder of records.py, each given ``ts`` in one of its time fields."""
    ok = datetime(2026, 11, 1, tzinfo=UTC)
    return {
        "voice (bot, simulator)": lambda: voice_payload("join", ts, GUILD, 7, 8),
        "voice (log line)": lambda: parse_voice_line(json.dumps(good(1, ts=ts.isoformat()))),
        "voice (spool replay)": lambda: VoiceRecord.from_spool(["join", ts.isoformat(), GUILD, 7, 8, "{}"]),
        "member event_ts": lambda: MemberRecord(GUILD, 7, "join", ts),
        "member joined_at": lambda: MemberRecord(GUILD, 7, "join", ok, joined_at=ts),
        "member (spool replay)": lambda: MemberRecord.from_spool(
            [GUILD, 7, "join", ts.isoformat(), None, None, None, False, "{}"]
        ),
        "scheduled event observed_ts": lambda: ScheduledEventRecord(GUILD, 9, ts, "scheduled", "x", ok),
        "scheduled event start": lambda: ScheduledEventRecord(GUILD, 9, ok, "scheduled", "x", ts),
        "scheduled event end": lambda: ScheduledEventRecord(GUILD, 9, ok, "scheduled", "x", ok, ts),
        "heartbeat": lambda: HeartbeatRecord(GUILD, "run-1", ts),
        "heartbeat (spool replay)": lambda: HeartbeatRecord.from_spool([GUILD, "run-1", ts.isoformat()]),
        "channel": lambda: ChannelRecord(GUILD, 8, "update", ts, "General"),
        "channel (spool replay)": lambda: ChannelRecord.from_spool(
            [GUILD, 8, "update", ts.isoformat(), "General", "{}"]
        ),
    }


@pytest.mark.parametrize("path", list(_records_at(BEFORE_DISCORD)))
def test_record_before_2015_is_refused_on_every_record_path(path: str) -> None:
    with pytest.raises(InvalidRecord, match=r"before Discord existed|impossible time"):
        _records_at(BEFORE_DISCORD)[path]()
    _records_at(datetime(2015, 5, 13, tzinfo=UTC))[path]()  # Discord's launch day is fine


def test_a_channel_record_of_an_unknown_kind_is_refused_where_it_is_built() -> None:
    with pytest.raises(InvalidRecord, match=r"channel record: event_type 'delete' is not one of"):
        ChannelRecord(GUILD, 8, "delete", datetime(2026, 11, 1, tzinfo=UTC), "General")


def test_record_before_2015_is_refused_by_pwr_ingest_simulate_and_events(pwr, warehouse_url, tmp_path):
    line = json.dumps(good(1, ts="2014-12-31T23:59:00Z"))
    (tmp_path / "old.jsonl").write_text(line + "\n")
    code, out = pwr("ingest", str(tmp_path / "old.jsonl"))
    assert code == 0 and "rejected 1" in out
    assert table(warehouse_url, "SELECT reason FROM pwr_raw.rejected_voice_events")[0][0].startswith(
        "event_ts is an impossible time"
    )
    events = tmp_path / "events.csv"
    events.write_text("external_event_id,name,scheduled_start_ts\nold-1,Old,2014-06-01T19:00:00Z\n")
    code, out = pwr("events", "import", str(events))
    assert code == 1 and "line 2 (old-1), field scheduled_start_ts: '2014-06-01T19:00:00Z' is before" in out
    events.write_text("external_event_id,name,scheduled_start_ts\nnew-1,New,2026-06-01T19:00:00Z\n")
    assert pwr("events", "import", str(events))[0] == 0
    code, out = pwr("events", "complete", "new-1", "--at", "2014-06-01T21:00:00Z")
    assert code == 2 and "before Discord existed" in out
    assert table(warehouse_url, "SELECT count(*) FROM pwr_raw.event_completions") == [(0,)]
    code, out = pwr("simulate", "--members", "2", "--days", "30", "--end", "2015-05-20")
    assert code == 2 and "would start 2015-04-20, before Discord existed" in out
    assert raw_counts(warehouse_url) == (0, 1)  # only the 2014 line, in quarantine


# --------------------------------------------------------------------------- promise 9: long lines
def _long_line_file(path: Path, kind: str, line_bytes: int) -> Path:
    """Good records around one line of ``line_bytes`` (a voice record with a huge username),
    written in pieces so the test itself never holds it."""
    head, tail = json.dumps(good(1, username="@@")).split("@@")
    filler = b"x" * (1 << 20)
    with open(path, "wb") as fh:

        def long_line(escape: bool) -> None:
            fh.write((json.dumps(head)[1:-1] if escape else head).encode())
            left = line_bytes
            while left > 0:
                fh.write(filler[: min(left, len(filler))])
                left -= len(filler)
            fh.write((json.dumps(tail)[1:-1] if escape else tail).encode())

        if kind == "jsonl":
            fh.write((json.dumps(GOOD_RECORDS[0]) + "\n").encode())
            long_line(escape=False)
            fh.write(("\n" + json.dumps(GOOD_RECORDS[1]) + "\n").encode())
        else:
            values = [
                [str(1_793_000_000_000_000_000 + i), json.dumps(r)] for i, r in enumerate(GOOD_RECORDS[:2])
            ]
            first, second = (json.dumps(v) for v in values)
            fh.write(
                b'{"status": "success", "data": {"resultType": "streams", "result": [{"stream": {}, "values": ['
            )
            fh.write(first.encode() + b', ["1793000000000000005", "')
            long_line(escape=True)
            fh.write(b'"], ' + second.encode() + b"]}]}}")
    return path


@pytest.mark.parametrize("kind", ["jsonl", "loki"])
def test_line_over_1_mib_is_quarantined_with_its_head_and_length(kind, pwr, warehouse_url, tmp_path):
    path = _long_line_file(tmp_path / f"long.{'jsonl' if kind == 'jsonl' else 'json'}", kind, 3 << 19)
    code, out = pwr("ingest", str(path))
    assert code == 0 and f"({kind}): read 3, inserted 2, duplicates 0, rejected 1" in out
    [(raw_text, reason)] = table(warehouse_url, "SELECT raw_text, reason FROM pwr_raw.rejected_voice_events")
    assert len(raw_text) == KEPT_BYTES and raw_text.startswith('{"event_type": "join"')
    assert (
        re.match(r"line too long: 1,57[0-9],[0-9]{3} bytes", reason)
        and f"limit of {MAX_LINE_BYTES:,}" in reason
    )


# Lines made of what makes string boundaries hard to follow: quotes, backslashes, escapes, \u
# escapes and multi-byte characters, in any order and any number.
TRICKY = st.lists(
    st.sampled_from(["a", '"', "\\", "\n", "é", "€", "\U0001f3ae", "\x01", '\\"', '{"k": "v"}']), max_size=60
).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(TRICKY, max_size=6),
    limit=st.integers(min_value=24, max_value=120),
    read=st.integers(min_value=1, max_value=12),
    ascii_only=st.booleans(),
)
def test_long_string_guard_cuts_exactly_the_strings_over_the_limit(lines, limit, read, ascii_only) -> None:
    """Through the guard, ijson sees every string as written unless its JSON-escaped length in the
    document is over the limit; then it sees a cut string whose true length the guard reports."""
    values = [[str(i), line] for i, line in enumerate(lines)]
    document = json.dumps(
        {
            "status": "success",
            "data": {"resultType": "streams", "result": [{"stream": {}, "values": values}]},
        },
        ensure_ascii=ascii_only,
    ).encode()
    guard = LongStringGuard(io.BytesIO(document), limit=limit, read_bytes=read)
    seen = list(ijson.items(guard, "data.result.item.values.item"))
    assert [ts for ts, _ in seen] == [ts for ts, _ in values]
    for (_, got), (_, line) in zip(seen, values, strict=True):
        in_document = len(json.dumps(line, ensure_ascii=ascii_only).encode()) - 2
        cut = guard.cut_length(got)
        if in_document > limit:
            assert cut == in_document and line.startswith(got.partition("\x00")[0])
        else:
            assert cut is None and got == line


MEASURE = textwrap.dedent(
    """
    import resource, sys
    from collections import Counter
    from pwr_platform.ingest.logs import iter_file
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fmt, records, fh = iter_file(sys.argv[1])
    kinds = Counter(r.KIND for r in records)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(fmt, kinds["voice"], kinds["rejected"], grown * 1024)
    """
)


@pytest.mark.parametrize("kind", ["jsonl", "loki"])
def test_64_mib_line_is_read_in_bounded_memory(kind, tmp_path):
    line_bytes = 64 << 20
    path = _long_line_file(tmp_path / f"huge.{'jsonl' if kind == 'jsonl' else 'json'}", kind, line_bytes)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True, timeout=300
    )
    fmt, voice, rejected, grown = done.stdout.split()
    assert (fmt, voice, rejected) == (kind, "2", "1")
    # Peak memory grows by a few MiB (the 1 MiB limit, read buffers), not by the line's 64 MiB.
    assert int(grown) < 12 << 20, f"peak RSS grew {int(grown) / 2**20:.1f} MiB for a 64 MiB line"


# --------------------------------------------------------------------------- promise 10: Loki answers
LOKI_ANSWERS = {
    "matrix": (
        {"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"app": "pwr"}, "values": [[1_793_000_000 + i, str(i)] for i in range(500)]}]}},
        "a Loki metric answer (resultType 'matrix'), not log lines",
    ),
    "vector": (
        {"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [1_793_000_000, "3"]}]}},
        "a Loki metric answer (resultType 'vector')",
    ),
    "error": (
        {"status": "error", "errorType": "bad_data", "error": "parse error at line 1, col 8: syntax error"},
        "Loki answered with an error: bad_data: parse error at line 1, col 8",
    ),
}  # fmt: skip


@pytest.mark.parametrize("answer", list(LOKI_ANSWERS))
def test_loki_metric_or_error_answer_is_refused_with_one_message(answer, pwr, warehouse_url, tmp_path):
    document, message = LOKI_ANSWERS[answer]
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(document))
    code, out = pwr("ingest", str(path))
    assert code == 1 and f"{path}: {message}" in out and "nothing was ingested" in out
    assert raw_counts(warehouse_url) == (0, 0)  # no quarantine flood


def test_loki_value_with_structured_metadata_is_read_and_a_number_timestamp_quarantined(
    pwr, warehouse_url, tmp_path
):
    """Loki 3 may add structured metadata as a third element; a stream value whose timestamp is a
    number (hand-edited) is one quarantined value, not a refused file (resultType is streams)."""
    values = [
        ["1793000000000000000", json.dumps(good(1)), {"trace_id": "abc"}],
        [1_793_000_000, json.dumps(good(2))],
    ]
    path = tmp_path / "answer.json"
    path.write_text(
        json.dumps(
            {
                "status": "success",
                "data": {"resultType": "streams", "result": [{"stream": {}, "values": values}]},
            }
        )
    )
    code, out = pwr("ingest", str(path))
    assert code == 0 and "read 2, inserted 1, duplicates 0, rejected 1" in out
    assert table(warehouse_url, "SELECT reason FROM pwr_raw.rejected_voice_events") == [
        ("Loki timestamp is not a string of nanoseconds",)
    ]


def test_logcli_jsonl_is_ingested_like_the_same_json_lines(pwr, warehouse_url, tmp_path):
    plain = write_jsonl(tmp_path / "plain.jsonl")
    logcli = tmp_path / "logcli.jsonl"
    with open(plain, "rb") as src, open(logcli, "wb") as dst:
        for n, raw in enumerate(src):
            try:
                line = raw.decode().rstrip("\n")
            except UnicodeDecodeError:
                dst.write(raw)  # not UTF-8: no logcli output can hold it, kept as is
                continue
            entry = {
                "labels": {"app": "pwr-collector"},
                "line": line,
                "timestamp": f"2026-11-01T19:00:{n:02d}Z",
            }
            dst.write((json.dumps(entry) + "\n").encode())

    def stored() -> tuple[list, list]:
        voice = table(
            warehouse_url,
            "SELECT discord_user_id, event_type, event_ts, raw_payload::text FROM pwr_raw.discord_voice_events"
            " ORDER BY 1, 2, 3",
        )
        quarantine = table(
            warehouse_url,
            "SELECT regexp_replace(source_ref, '^.*:', ''), raw_text, reason FROM pwr_raw.rejected_voice_events"
            " ORDER BY 1",
        )
        return voice, quarantine

    code, out_plain = pwr("ingest", str(plain))
    assert code == 0
    from_plain = stored()
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("TRUNCATE pwr_raw.discord_voice_events, pwr_raw.rejected_voice_events")
    code, out_logcli = pwr("ingest", str(logcli))
    assert code == 0
    assert out_logcli.split("(jsonl)")[1].split(" in ")[0] == out_plain.split("(jsonl)")[1].split(" in ")[0]
    assert stored() == from_plain
    assert len(from_plain[0]) == len(GOOD_RECORDS) and len(from_plain[1]) == len(BAD_LINES) + 1


# --------------------------------------------------------------------------- promise 14: no traceback
def _files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "a-directory").mkdir()
    loki = json.dumps({"status": "success", "data": {"resultType": "streams", "result": [
        {"stream": {}, "values": [["1793000000000000000", json.dumps(good(1))]]}]}})  # fmt: skip
    cases = {
        "missing": (tmp_path / "missing.jsonl", "does not exist"),
        "directory": (tmp_path / "a-directory", "is a directory"),
        "empty": (tmp_path / "empty.jsonl", "the file is empty"),
        "empty gzip": (tmp_path / "empty.jsonl.gz", "the file is empty"),
        "not gzip": (tmp_path / "plain.jsonl.gz", "not a gzip archive"),
        "truncated gzip": (tmp_path / "cut.jsonl.gz", "a damaged or truncated gzip archive"),
        "Loki cut short": (
            tmp_path / "cut.json",
            "not a valid Loki query_range JSON document after 1 values",
        ),
        "Loki not UTF-8": (tmp_path / "latin1.json", "not a valid Loki query_range JSON document"),
    }
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "empty.jsonl.gz").write_bytes(gzip.compress(b""))
    (tmp_path / "plain.jsonl.gz").write_text(json.dumps(good(1)) + "\n")
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress((json.dumps(good(1)) + "\n").encode() * 50)[:25])
    (tmp_path / "cut.json").write_text(loki.replace("]]}]}}", '], ["17930000000'))
    (tmp_path / "latin1.json").write_bytes(loki.replace("user1", "us\xe9r1").encode("latin-1"))
    return cases


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "directory",
        "empty",
        "empty gzip",
        "not gzip",
        "truncated gzip",
        "Loki cut short",
        "Loki not UTF-8",
    ],
)
def test_pwr_ingest_user_error_is_one_message_naming_the_file(case, pwr, warehouse_url, tmp_path):
    path, message = _files(tmp_path)[case]
    good_file = tmp_path / "good.jsonl"
    good_file.write_text(json.dumps(good(2)) + "\n")
    code, out = pwr("ingest", str(good_file), str(path))
    assert code != 0 and message in out and path.name in out, out
    assert "Traceback" not in out
    # The good file before it was ingested; the broken one added nothing, not even quarantine.
    voice, rejected = raw_counts(warehouse_url)
    assert rejected == 0 and voice == (1 if code == 1 else 0) + (1 if case == "Loki cut short" else 0)


def test_pwr_command_prints_no_traceback_for_user_errors(warehouse_url, tmp_path):
    """The installed ``pwr`` in its own process (as a user runs it): a not-gzip archive and an
    events YAML entry whose value is a list (an AttributeError before) each end in one line of
    reason and exit 1. Every other bad input is driven through the same command in-process
    (CliRunner) above and in test_events.py: a ``pwr`` process takes seconds to start."""
    settings = {"PWR_DATABASE_URL": warehouse_url, "PWR_HOME": str(tmp_path / "home")}

    not_gzip = tmp_path / "voice.jsonl.gz"
    not_gzip.write_text(json.dumps(good(1)) + "\n")
    events = tmp_path / "events.yaml"
    events.write_text(
        "- external_event_id: y-1\n  name: [Scrim, night]\n  scheduled_start_ts: 2026-11-02T19:00:00Z\n"
    )
    for args, message in (
        (("ingest", str(not_gzip)), f"{not_gzip}: not a gzip archive"),
        (
            ("events", "import", str(events)),
            "entry 1 (y-1), field name: a single value is expected here, not a list",
        ),
    ):
        done = run_pwr(settings, *args, timeout=300)
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert raw_counts(warehouse_url) == (0, 0)
    assert table(warehouse_url, "SELECT count(*) FROM pwr_raw.manual_events") == [(0,)]


def test_bounded_reader_keeps_line_numbers_after_a_long_line(tmp_path):
    """source_ref stays '<path>:<line>' for the lines after a cut one (re-runs stay idempotent)."""
    from pwr_platform.ingest.logs import iter_file

    path = _long_line_file(tmp_path / "long.jsonl", "jsonl", 2 << 20)
    _fmt, records, fh = iter_file(path)
    refs = [getattr(r, "source_ref", None) or r.payload for r in records]
    fh.close()
    assert refs[1] == f"{path.resolve()}:2" and json.loads(refs[2]) == GOOD_RECORDS[1]
