"""``pwr ingest`` on a Loki file and a JSON-lines file: good lines, duplicates and every kind of
bad line; counts, stored rejection reasons, and a second run that changes nothing."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pwr_platform.cli import main
from pwr_platform.ingest.logs import detect_format
from pwr_platform.ingest.records import InvalidRecord, parse_voice_line
from pwr_platform.settings import get_settings

GUILD = "811111111111111111"


def good(i: int, event_type: str = "join", ts: str | None = None, **extra) -> dict:
    record = {
        "event_type": event_type,
        "event_ts": ts or f"2026-11-01T19:{i:02d}:11.123Z",
        "discord_guild_id": GUILD,
        "discord_user_id": str(822222222222222000 + i),
        "discord_channel_id": 833333333333333333,  # ids may be JSON integers too
        "username": f"user{i}",
        "source": "bot",
    }
    if event_type == "move":
        record["from_channel_id"] = "844444444444444444"
    record.update(extra)
    return record


# Every kind of bad line, with the words its stored reason must contain.
BAD_LINES = [
    ('{"event_type": "join", "event_ts": "2026-11-01T19:00:00Z", "discord_guild', "bad JSON"),
    ("not json at all", "bad JSON"),
    (json.dumps({k: v for k, v in good(1).items() if k != "discord_user_id"}), "missing required field"),
    (json.dumps({k: v for k, v in good(2, "move").items() if k != "from_channel_id"}), "from_channel_id"),
    (json.dumps(good(3, "mute")), "unknown event_type"),
    (json.dumps(good(4, discord_user_id="ada#1234")), "not a numeric Discord id"),
    (json.dumps(good(5, discord_channel_id=-5)), "out of range for a Discord id"),
    (json.dumps(good(6, ts="2026-11-01T19:00:00")), "no time zone"),
    (json.dumps(good(7, ts="2026-02-30T19:00:00Z")), "not a valid ISO 8601"),
    (json.dumps(good(8, ts="1970-01-01T00:00:00Z")), "impossible time"),
    ("[1, 2, 3]", "not a JSON object"),
]
GOOD_RECORDS = [
    good(10),
    good(11, "move"),
    good(12, "leave"),
    good(13, ts="2026-11-01T21:13:11.123+02:00"),  # offset → UTC
]
# The same event as good(10), written with an offset instead of Z: a duplicate (same instant).
DUPLICATES = [good(10), good(10, ts="2026-11-01T20:10:11.123+01:00")]


@pytest.fixture
def cli(warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PWR_DATABASE_URL", warehouse_url)
    monkeypatch.setenv("PWR_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    yield run
    get_settings.cache_clear()


def write_jsonl(path: Path) -> Path:
    lines = [json.dumps(r) for r in GOOD_RECORDS + DUPLICATES] + [line for line, _ in BAD_LINES] + [""]
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe not utf-8\n")
    return path


def write_loki(path: Path) -> Path:
    def stream(records, start_ns: int) -> dict:
        return {
            "stream": {"app": "pwr-collector"},
            "values": [
                [str(start_ns + i), r if isinstance(r, str) else json.dumps(r)] for i, r in enumerate(records)
            ],
        }

    response = {
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [
                stream(GOOD_RECORDS[:2] + DUPLICATES[:1], 1_793_000_000_000_000_000),
                stream(
                    GOOD_RECORDS[2:] + DUPLICATES[1:] + [line for line, _ in BAD_LINES],
                    1_793_000_100_000_000_000,
                ),
            ],
            "stats": {},
        },
    }
    path.write_text(json.dumps(response, indent=2))
    return path


def table(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def expected_rows() -> list[tuple]:
    rows = []
    for r in GOOD_RECORDS:
        ts = datetime.fromisoformat(r["event_ts"]).astimezone(UTC)
        rows.append((int(r["discord_user_id"]), r["event_type"], ts))
    return sorted(rows)


@pytest.mark.parametrize("kind", ["jsonl", "loki"])
def test_ingest_counts_quarantine_and_rerun(kind: str, cli, warehouse_url: str, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "voice.jsonl") if kind == "jsonl" else write_loki(tmp_path / "voice.json")
    n_bad = len(BAD_LINES) + (1 if kind == "jsonl" else 0)  # + the non-UTF-8 line
    n_read = len(GOOD_RECORDS) + len(DUPLICATES) + n_bad

    out = cli("ingest", str(path))
    assert f"({kind}): read {n_read}, inserted {len(GOOD_RECORDS)}, duplicates {len(DUPLICATES)}, " in out
    assert f"rejected {n_bad} ({n_bad} new in quarantine)" in out

    rows = table(
        warehouse_url,
        "SELECT discord_user_id, event_type, event_ts FROM pwr_raw.discord_voice_events ORDER BY 1, 2, 3",
    )
    assert rows == expected_rows()
    # raw_payload keeps the source record, and the first stored copy of a duplicate wins.
    [(payload,)] = table(
        warehouse_url,
        f"SELECT raw_payload FROM pwr_raw.discord_voice_events WHERE discord_user_id = {822222222222222010}",
    )
    assert payload == GOOD_RECORDS[0]
    [(moved_from,)] = table(
        warehouse_url,
        "SELECT raw_payload->>'from_channel_id' FROM pwr_raw.discord_voice_events WHERE event_type='move'",
    )
    assert moved_from == "844444444444444444"

    rejected = table(
        warehouse_url, "SELECT source, source_ref, raw_text, reason FROM pwr_raw.rejected_voice_events"
    )
    assert len(rejected) == n_bad and {r[0] for r in rejected} == {kind}
    by_text = {r[2]: r[3] for r in rejected}
    for line, reason_words in BAD_LINES:
        assert reason_words in by_text[line], (line, by_text[line])
    assert all(r[1].startswith(str(path.resolve())) for r in rejected)
    if kind == "jsonl":
        assert any("not valid UTF-8" in r[3] for r in rejected)

    again = cli("ingest", str(path))
    assert f"inserted 0, duplicates {len(GOOD_RECORDS) + len(DUPLICATES)}, " in again
    assert f"rejected {n_bad} (0 new in quarantine)" in again
    assert len(table(warehouse_url, "SELECT 1 FROM pwr_raw.discord_voice_events")) == len(GOOD_RECORDS)
    assert len(table(warehouse_url, "SELECT 1 FROM pwr_raw.rejected_voice_events")) == n_bad


def test_gzip_and_several_files(cli, warehouse_url: str, tmp_path: Path) -> None:
    plain = write_jsonl(tmp_path / "a.jsonl")
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(json.dumps(good(40)).encode() + b"\n"))
    out = cli("ingest", str(plain), str(packed))
    assert "total: read" in out and f"inserted {len(GOOD_RECORDS) + 1}," in out.splitlines()[-1]


def test_truncated_loki_document_fails_clearly(warehouse_url: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PWR_DATABASE_URL", warehouse_url)
    monkeypatch.setenv("PWR_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    path = write_loki(tmp_path / "cut.json")
    path.write_text(path.read_text()[:-200])
    result = CliRunner().invoke(main, ["ingest", str(path)])
    get_settings.cache_clear()
    assert result.exit_code != 0 and "not a valid Loki query_range JSON document" in result.output


def test_format_detection(tmp_path: Path) -> None:
    assert detect_format(write_loki(tmp_path / "x.json")) == "loki"
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps({"status": "success", "data": {"result": []}}))
    assert detect_format(compact) == "loki"
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps(good(1)) + "\n")
    assert detect_format(lines) == "jsonl"
    assert detect_format(write_jsonl(tmp_path / "y.jsonl")) == "jsonl"


@settings(max_examples=60, deadline=None)
@given(
    instant=st.datetimes(
        min_value=datetime(2016, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
    user=st.integers(min_value=1, max_value=2**63 - 1),
    as_int=st.booleans(),
)
def test_any_offset_is_the_same_instant(instant, offset_minutes, user, as_int) -> None:
    local = instant.astimezone(timezone(timedelta(minutes=offset_minutes)))
    line = json.dumps(good(1, ts=local.isoformat(), discord_user_id=user if as_int else str(user)))
    record = parse_voice_line(line)
    assert record.event_ts == instant and record.event_ts.tzinfo == UTC
    assert record.user_id == user and record.payload == line


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=80))
def test_arbitrary_text_is_rejected_or_valid_never_crashes(text: str) -> None:
    try:
        record = parse_voice_line(text)
    except InvalidRecord as exc:
        assert str(exc)
    else:
        assert record.event_type in {"join", "leave", "move"}
