"""pwr_core.members: every raw user, first/last seen, newest names, join/leave dates, hosts."""

from __future__ import annotations

import psycopg

from pwr_platform.transforms.members import refresh_members
from pwr_platform_tests.voice_data import GUILD, Voice, at, insert_voice


def member_event(conn, user, event_type, ts, *, username=None, display_name=None, joined_at=None):
    conn.execute(
        "INSERT INTO pwr_raw.discord_member_events (discord_guild_id, discord_user_id, event_type, event_ts, "
        "username, display_name, joined_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (GUILD, user, event_type, ts, username, display_name, joined_at),
    )


def run(url, full=False):
    with psycopg.connect(url) as conn:
        return refresh_members(conn, full=full)


def member(conn, user):
    return conn.execute(
        "SELECT first_seen_ts, last_seen_ts, is_active, username, display_name, join_date, leave_date "
        "FROM pwr_core.members WHERE discord_user_id = %s",
        (user,),
    ).fetchone()


def test_members_from_voice_and_member_records_incrementally_equal_a_rebuild(warehouse_conn, warehouse_url):
    insert_voice(warehouse_conn, [Voice(1, "join", at(10), 10, username="ada"), Voice(2, "join", at(5), 10)])
    member_event(
        warehouse_conn, 1, "snapshot", at(0), username="ada_old", display_name="Ada", joined_at=at(-1000)
    )
    assert run(warehouse_url).mode == "full"
    assert member(warehouse_conn, 1) == (at(0), at(10), True, "ada", "Ada", at(-1000), None)
    assert member(warehouse_conn, 2) == (at(5), at(5), True, None, None, at(5), None)

    # later: user 1 renamed (empty names never overwrite), leaves the guild; user 3 only in member records
    insert_voice(warehouse_conn, [Voice(1, "leave", at(20), 10, username="  ")])
    member_event(warehouse_conn, 1, "update", at(21), display_name="Ada L.")
    member_event(warehouse_conn, 1, "leave", at(30))
    member_event(warehouse_conn, 3, "join", at(31), username="cy", joined_at=at(31))
    result = run(warehouse_url)
    assert (result.mode, result.users_considered) == ("incremental", 2)
    assert member(warehouse_conn, 1) == (at(0), at(30), False, "ada", "Ada L.", at(-1000), at(30))
    assert member(warehouse_conn, 3) == (at(31), at(31), True, "cy", None, at(31), None)
    incremental = warehouse_conn.execute("SELECT * FROM pwr_core.members ORDER BY discord_user_id").fetchall()

    # a rejoin makes them active again
    member_event(warehouse_conn, 1, "join", at(40), joined_at=at(40))
    run(warehouse_url)
    assert member(warehouse_conn, 1)[2] is True and member(warehouse_conn, 1)[5] == at(40)

    run(warehouse_url, full=True)
    rebuilt = warehouse_conn.execute("SELECT * FROM pwr_core.members ORDER BY discord_user_id").fetchall()
    assert [r[1:] for r in rebuilt if r[1] != 1] == [r[1:] for r in incremental if r[1] != 1]


def test_a_host_only_user_is_first_seen_at_the_events_scheduled_start(warehouse_conn, warehouse_url):
    warehouse_conn.execute(
        "INSERT INTO pwr_raw.manual_events (external_event_id, name, scheduled_start_ts, host_discord_user_id, source) "
        "VALUES ('e1', 'Cup', %s, 77, 'test')",
        (at(600),),
    )
    run(warehouse_url)
    assert member(warehouse_conn, 77)[:3] == (at(600), at(600), True)
    insert_voice(warehouse_conn, [Voice(77, "join", at(700), 10)])
    run(warehouse_url)
    assert member(warehouse_conn, 77)[:2] == (at(700), at(700))  # seen in voice now: hosting no longer counts


def test_users_only_in_rejected_lines_are_not_members(warehouse_conn, warehouse_url):
    warehouse_conn.execute(
        "INSERT INTO pwr_raw.rejected_voice_events (source, raw_text, reason) VALUES ('jsonl', '{\"discord_user_id\": 5}', 'bad')"
    )
    insert_voice(warehouse_conn, [Voice(6, "join", at(0), 10)])
    run(warehouse_url)
    assert [r[0] for r in warehouse_conn.execute("SELECT discord_user_id FROM pwr_core.members")] == [6]
