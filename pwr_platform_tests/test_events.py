"""pwr_core.events from Discord scheduled-event records and from `pwr events import` / `complete`."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from pwr_platform.cli import main
from pwr_platform.transforms.events import refresh_events
from pwr_platform_tests.voice_data import GUILD, at

HEADER = (
    "external_event_id,name,event_type,description,scheduled_start_ts,scheduled_end_ts,"
    "actual_start_ts,actual_end_ts,host_discord_user_id,channel_ids,status\n"
)


def observe(conn, event_id, observed, status, *, name="Scrim night", channel=10, creator=7001, start=None):
    conn.execute(
        """
        INSERT INTO pwr_raw.discord_scheduled_events (discord_guild_id, discord_event_id, observed_ts, status, name,
            scheduled_start_ts, scheduled_end_ts, discord_channel_id, creator_discord_user_id, event_type)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'scrim')
        """,
        (GUILD, event_id, observed, status, name, start or at(60), at(120), channel, creator),
    )


def event_row(conn, external_id):
    return conn.execute(
        """
        SELECT e.name, e.status, e.actual_start_ts, e.actual_end_ts, m.discord_user_id,
               array(SELECT discord_channel_id FROM pwr_core.event_channels c WHERE c.event_id = e.event_id ORDER BY 1)
        FROM pwr_core.events e LEFT JOIN pwr_core.members m ON m.member_id = e.host_member_id
        WHERE e.external_event_id = %s
        """,
        (external_id,),
    ).fetchone()


def refresh(url):
    with psycopg.connect(url) as conn:
        return refresh_events(conn)


def test_discord_event_lifecycle_sets_actual_times_from_first_transitions(warehouse_conn, warehouse_url):
    observe(warehouse_conn, 55, at(0), "scheduled", name="Scrim")
    observe(warehouse_conn, 55, at(59), "scheduled", name="Scrim night", channel=11)
    observe(warehouse_conn, 55, at(61), "active", channel=11)
    observe(warehouse_conn, 55, at(62), "active", channel=11)  # re-observed: first one counts
    refresh(warehouse_url)
    assert event_row(warehouse_conn, "discord:55") == ("Scrim night", "active", at(61), None, 7001, [11])
    observe(warehouse_conn, 55, at(118), "completed", channel=11)
    refresh(warehouse_url)
    assert event_row(warehouse_conn, "discord:55") == (
        "Scrim night",
        "completed",
        at(61),
        at(118),
        7001,
        [11],
    )
    # the creator became a member, first seen at the event's scheduled start
    assert warehouse_conn.execute(
        "SELECT first_seen_ts FROM pwr_core.members WHERE discord_user_id = 7001"
    ).fetchone() == (at(60),)


def test_cancelled_event(warehouse_conn, warehouse_url):
    observe(warehouse_conn, 56, at(0), "scheduled")
    observe(warehouse_conn, 56, at(5), "cancelled")
    refresh(warehouse_url)
    assert event_row(warehouse_conn, "discord:56")[1] == "cancelled"


def test_changed_xid_moves_only_when_attendance_inputs_change(warehouse_conn, warehouse_url):
    observe(warehouse_conn, 57, at(0), "completed")
    refresh(warehouse_url)

    def xid():
        return warehouse_conn.execute(
            "SELECT changed_xid::text FROM pwr_core.events WHERE external_event_id = 'discord:57'"
        ).fetchone()[0]

    first = xid()
    refresh(warehouse_url)
    assert xid() == first  # nothing changed
    observe(warehouse_conn, 57, at(1), "completed", name="Renamed")
    refresh(warehouse_url)
    assert xid() == first  # a new name does not change attendance
    observe(warehouse_conn, 57, at(2), "completed", name="Renamed", channel=12)
    refresh(warehouse_url)
    assert xid() != first  # channels did


def start_command(conn, external_id, recorded, channels, interaction_id=9001):
    conn.execute(
        """
        INSERT INTO pwr_raw.discord_event_commands (discord_guild_id, interaction_id, action, external_event_id,
            recorded_ts, channel_ids, organizer_discord_user_id, raw_payload)
        VALUES (%s, %s, 'start', %s, %s, %s, 7001, '{}')
        """,
        (GUILD, interaction_id, external_id, recorded, list(channels)),
    )


def test_a_start_command_adds_its_channels_to_the_events_own(warehouse_conn, warehouse_url):
    """A scrim in two team channels: Discord's event names one, `/event start` adds the other.
    The event runs in both (attendance counts either), the bot's view says so before the core
    refresh has folded the command, and the attendance sensor's stamp moves."""
    observe(warehouse_conn, 58, at(0), "scheduled", channel=10)
    refresh(warehouse_url)
    before = warehouse_conn.execute(
        "SELECT changed_xid::text FROM pwr_core.events WHERE external_event_id = 'discord:58'"
    ).fetchone()[0]

    def view_channels():
        return warehouse_conn.execute(
            "SELECT channel_ids FROM pwr_core.bot_event_state WHERE external_event_id = 'discord:58'"
        ).fetchone()[0]

    assert view_channels() == [10]
    start_command(warehouse_conn, "discord:58", at(60), [12, 10])  # 10 again: counted once
    assert view_channels() == [10, 12]  # not folded yet
    refresh(warehouse_url)
    assert event_row(warehouse_conn, "discord:58") == ("Scrim night", "active", at(60), None, 7001, [10, 12])
    assert view_channels() == [10, 12]
    after = warehouse_conn.execute(
        "SELECT changed_xid::text FROM pwr_core.events WHERE external_event_id = 'discord:58'"
    ).fetchone()[0]
    assert after != before

    # a start command that adds nothing (the event's own channel only): the event's channel as it is
    observe(warehouse_conn, 59, at(0), "scheduled", channel=11)
    start_command(warehouse_conn, "discord:59", at(60), [], interaction_id=9002)
    refresh(warehouse_url)
    assert event_row(warehouse_conn, "discord:59")[5] == [11]


def run_cli(url, *args):
    return CliRunner().invoke(main, list(args), env={"PWR_DATABASE_URL": url}, catch_exceptions=False)


def test_import_csv_then_reimport_updates_by_external_id(warehouse_conn, warehouse_url, tmp_path):
    f = tmp_path / "events.csv"
    f.write_text(
        HEADER
        + "inh-1,Inhouse 1,inhouse,,2026-11-02T19:00:00Z,2026-11-02T21:00:00+00:00,,,7002,10 11,scheduled\n"
        + "mtg-1,Meeting,meeting,Monthly,2026-11-03T18:00:00+01:00,,,,,12,scheduled\n"
    )
    result = run_cli(warehouse_url, "events", "import", str(f))
    assert result.exit_code == 0, result.output
    assert "2 new, 0 updated" in result.output
    assert event_row(warehouse_conn, "inh-1")[1:] == ("scheduled", None, None, 7002, [10, 11])

    f.write_text(
        HEADER
        + "inh-1,Inhouse 1,inhouse,,2026-11-02T19:00:00Z,2026-11-02T21:00:00Z,2026-11-02T19:05:00Z,"
        + "2026-11-02T20:55:00Z,7002,11,completed\n"
    )
    result = run_cli(warehouse_url, "events", "import", str(f))
    assert "0 new, 1 updated" in result.output
    row = event_row(warehouse_conn, "inh-1")
    assert row[1] == "completed" and row[5] == [11]
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_core.events").fetchone()[0] == 2


def test_import_yaml(warehouse_conn, warehouse_url, tmp_path):
    f = tmp_path / "events.yaml"
    f.write_text(
        "- external_event_id: y-1\n  name: YAML scrim\n  scheduled_start_ts: 2026-11-02T19:00:00Z\n"
        "  scheduled_end_ts: 2026-11-02T20:00:00Z\n  channel_ids: [10, 12]\n  status: completed\n"
    )
    result = run_cli(warehouse_url, "events", "import", str(f))
    assert result.exit_code == 0, result.output
    assert event_row(warehouse_conn, "y-1")[1:] == ("completed", None, None, None, [10, 12])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("x-1,,t,,2026-11-02T19:00:00Z,,,,,,scheduled", "line 2 (x-1), field name: required, but empty"),
        (
            "x-1,N,t,,2026-11-02T19:00:00,,,,,,scheduled",
            "line 2 (x-1), field scheduled_start_ts: '2026-11-02T19:00:00' has no time zone offset",
        ),
        ("x-1,N,t,,2026-11-02T19:00:00Z,,,,,,done", "line 2 (x-1), field status: 'done' is not one of"),
        (
            "x-1,N,t,,2026-11-02T19:00:00Z,,,,abc,,scheduled",
            "line 2 (x-1), field host_discord_user_id: 'abc' is not a Discord id",
        ),
        (
            "x-1,N,t,,2026-11-02T19:00:00Z,2026-11-02T18:00:00Z,,,,,scheduled",
            "line 2 (x-1), field scheduled_end_ts",
        ),
        (
            "discord:9,N,t,,2026-11-02T19:00:00Z,,,,,,scheduled",
            "field external_event_id: ids starting with 'discord:'",
        ),
    ],
)
def test_bad_rows_are_named_and_nothing_is_imported(warehouse_conn, warehouse_url, tmp_path, line, expected):
    f = tmp_path / "events.csv"
    good = "ok-1,Fine,t,,2026-11-02T19:00:00Z,,,,,10,scheduled\n"
    f.write_text(HEADER + good + line.replace("line 2", "") + "\n")
    result = CliRunner().invoke(main, ["events", "import", str(f)], env={"PWR_DATABASE_URL": warehouse_url})
    assert result.exit_code == 1
    assert expected.replace("line 2", "line 3") in result.output
    assert "nothing imported" in result.output
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_raw.manual_events").fetchone()[0] == 0
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_core.events").fetchone()[0] == 0


def test_complete_stamps_the_end_by_hand(warehouse_conn, warehouse_url, tmp_path):
    f = tmp_path / "events.csv"
    f.write_text(HEADER + "c-1,Cup,t,,2026-11-02T19:00:00Z,,2026-11-02T19:02:00Z,,,10,active\n")
    run_cli(warehouse_url, "events", "import", str(f))
    result = run_cli(warehouse_url, "events", "complete", "c-1", "--at", "2026-11-02T21:30:00+00:00")
    assert result.exit_code == 0, result.output
    row = warehouse_conn.execute(
        "SELECT status, actual_end_ts, w.window_start_ts, w.window_end_ts FROM pwr_core.events "
        "JOIN pwr_core.event_windows w USING (event_id) WHERE external_event_id = 'c-1'"
    ).fetchone()
    assert row[0] == "completed"
    assert row[1].isoformat() == "2026-11-02T21:30:00+00:00"
    assert (row[2].isoformat(), row[3].isoformat()) == (
        "2026-11-02T19:02:00+00:00",
        "2026-11-02T21:30:00+00:00",
    )
    # by numeric event_id too; unknown ids and cancelled events are refused
    event_id = warehouse_conn.execute("SELECT event_id FROM pwr_core.events").fetchone()[0]
    assert (
        run_cli(warehouse_url, "events", "complete", str(event_id), "--at", "2026-11-02T21:31:00Z").exit_code
        == 0
    )
    bad = CliRunner().invoke(main, ["events", "complete", "nope"], env={"PWR_DATABASE_URL": warehouse_url})
    assert bad.exit_code == 1 and "No event 'nope'" in bad.output


# ----------------------------------------------------------------- issue 13: every bad file, one message
YAML_ENTRY = "- external_event_id: y-1\n  name: Scrim\n  scheduled_start_ts: 2026-11-02T19:00:00Z\n"
BAD_FILES = {
    "a YAML list where a name belongs": (
        "events.yaml",
        YAML_ENTRY.replace("name: Scrim", "name: [Scrim, night]"),
        "entry 1 (y-1), field name: a single value is expected here, not a list",
    ),
    "a YAML mapping where a timestamp belongs": (
        "events.yaml",
        YAML_ENTRY.replace("2026-11-02T19:00:00Z", "{at: 19:00}"),
        "entry 1 (y-1), field scheduled_start_ts: a single value is expected here, not a mapping",
    ),
    "a YAML list inside channel_ids": (
        "events.yaml",
        YAML_ENTRY + "  channel_ids: [10, [11, 12]]\n",
        "entry 1 (y-1), field channel_ids: each channel id must be a single value",
    ),
    "YAML aliases": (
        "events.yaml",
        "- &e\n  external_event_id: y-1\n  name: Scrim\n  scheduled_start_ts: 2026-11-02T19:00:00Z\n- *e\n",
        "line 1: YAML anchors and aliases (& and *) are not accepted",
    ),
    "a billion laughs": (
        "events.yaml",
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(
            f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "line 1: YAML anchors and aliases (& and *) are not accepted",
    ),
    "a YAML merge key": (
        "events.yaml",
        YAML_ENTRY + "  <<: {status: completed}\n",
        "entry 1 (y-1), field <<: unknown field",
    ),
    "YAML that is not a list": ("events.yaml", "external_event_id: y-1\n", "must be a list of mappings"),
    "broken YAML": ("events.yaml", "- name: [unclosed\n", "not valid YAML"),
    "not UTF-8": (
        "events.csv",
        (HEADER + "x-1,Caf\xe9,,,2026-11-02T19:00:00Z,,,,,,\n").encode("latin-1"),
        "not UTF-8",
    ),
    "an unknown CSV column": (
        "events.csv",
        "external_event_id,name,scheduled_start_ts,colour\nx-1,N,2026-11-02T19:00:00Z,red\n",
        "line 1 (header), field colour: unknown column",
    ),
    "a missing CSV column": (
        "events.csv",
        "external_event_id,scheduled_start_ts\n",
        "line 1 (header), field name: column missing",
    ),
    "more cells than columns": (
        "events.csv",
        "external_event_id,name,scheduled_start_ts\nx-1,N,2026-11-02T19:00:00Z,surplus\n",
        "line 2 (x-1): more cells than the header has columns",
    ),
    "an unknown status": (
        "events.csv",
        HEADER + "x-1,N,t,,2026-11-02T19:00:00Z,,,,,,done\n",
        "line 2 (x-1), field status: 'done' is not one of scheduled, active, completed, cancelled",
    ),
    "a timestamp that is not one": (
        "events.csv",
        HEADER + "x-1,N,t,,next friday,,,,,,\n",
        "line 2 (x-1), field scheduled_start_ts: 'next friday' is not an ISO 8601 timestamp",
    ),
    "an id beyond BIGINT": (
        "events.csv",
        HEADER + "x-1,N,t,,2026-11-02T19:00:00Z,,,,99999999999999999999,,\n",
        "line 2 (x-1), field host_discord_user_id: '99999999999999999999' is out of range",
    ),
    "a NUL character": (
        "events.csv",
        HEADER + "x-1,N\x00,t,,2026-11-02T19:00:00Z,,,,,,\n",
        "line 2 (x-1), field name: contains a NUL character",
    ),
    "an empty file": ("events.csv", "", "the file is empty: no events to import"),
    "a header only": ("events.csv", HEADER, "the file holds no events"),
    "a text file": ("events.txt", "hello", "unknown file type '.txt'"),
    "an oversized file": ("events.csv", HEADER + "#" * (5 << 20), "over the limit of 4,194,304"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_events_file_is_one_clear_message_and_nothing_is_imported(
    case, warehouse_conn, warehouse_url, tmp_path
):
    name, content, expected = BAD_FILES[case]
    f = tmp_path / name
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = CliRunner().invoke(main, ["events", "import", str(f)], env={"PWR_DATABASE_URL": warehouse_url})
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"{f}: " in result.output and expected in result.output, result.output
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_raw.manual_events").fetchone()[0] == 0


def test_events_commands_without_a_reachable_warehouse_say_so(tmp_path):
    f = tmp_path / "events.yaml"
    f.write_text(YAML_ENTRY)
    down = "postgresql://postgres@127.0.0.1:1/postgres"
    for args in (["events", "import", str(f)], ["events", "complete", "y-1"]):
        result = CliRunner().invoke(main, args, env={"PWR_DATABASE_URL": down})
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert "warehouse unreachable" in result.output
