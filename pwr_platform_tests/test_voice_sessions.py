"""Scenario tests of pwr_core.voice_sessions, one or more per numbered rule of ARCHITECTURE.md."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest

from pwr_platform.transforms import session_rebuild
from pwr_platform.transforms.members import refresh_members
from pwr_platform.transforms.sessionizer import refresh_voice_sessions
from pwr_platform_tests.voice_data import (
    GUILD,
    Voice,
    at,
    insert_heartbeats,
    insert_voice,
    refresh,
    stored_sessions,
    terminate_when_waiting_for_a_lock,
)

A, B = 1001, 1002
C1, C2, C3 = 10, 11, 12


def sessions_of(conn, user=A):
    """(channel, start, end, duration, reason) of one user's sessions."""
    return [(s[2], s[3], s[4], s[5], s[7]) for s in stored_sessions(conn) if s[0] == user]


def test_rule1_join_opens_and_a_second_join_closes_the_open_one_as_rejoin(warehouse_conn, warehouse_url):
    insert_voice(warehouse_conn, [Voice(A, "join", at(0), C1), Voice(A, "join", at(10), C2)])
    refresh(warehouse_url)
    assert sessions_of(warehouse_conn) == [
        (C1, at(0), at(10), 600, "rejoin"),
        (C2, at(10), None, None, None),
    ]


def test_rule2_move_closes_and_opens_in_the_new_channel_or_just_opens(warehouse_conn, warehouse_url):
    insert_voice(
        warehouse_conn,
        [
            Voice(A, "move", at(0), C2, from_channel=C1),  # nothing open: just opens
            Voice(A, "move", at(5), C3, from_channel=C2),
            Voice(A, "leave", at(7), C3),
        ],
    )
    refresh(warehouse_url)
    assert sessions_of(warehouse_conn) == [(C2, at(0), at(5), 300, "move"), (C3, at(5), at(7), 120, "leave")]


def test_rule3_leave_closes_whatever_channel_it_names_and_a_stray_leave_is_counted(
    warehouse_conn, warehouse_url
):
    insert_voice(
        warehouse_conn,
        [Voice(A, "leave", at(-1), C1), Voice(A, "join", at(0), C1), Voice(A, "leave", at(3), C3)],
    )
    result = refresh(warehouse_url)
    assert sessions_of(warehouse_conn) == [(C1, at(0), at(3), 180, "leave")]
    assert result.ignored_leaves == 1
    assert all(s[6] for s in stored_sessions(warehouse_conn))  # is_completed


def test_ties_at_one_instant_order_leave_before_move_before_join(warehouse_conn, warehouse_url):
    # all at the same instant, stored in the "wrong" order: join, move, leave
    insert_voice(warehouse_conn, [Voice(A, "join", at(0), C1)])
    insert_voice(
        warehouse_conn,
        [
            Voice(A, "join", at(10), C3),
            Voice(A, "move", at(10), C2, from_channel=C1),
            Voice(A, "leave", at(10), C1),
        ],
    )
    refresh(warehouse_url)
    # leave closes C1; the move opens C2 (nothing open), the join closes it at once (rejoin) and opens C3
    assert sessions_of(warehouse_conn) == [
        (C1, at(0), at(10), 600, "leave"),
        (C2, at(10), at(10), 0, "rejoin"),
        (C3, at(10), None, None, None),
    ]


def test_rounding_to_whole_seconds_per_session(warehouse_conn, warehouse_url):
    ms = timedelta(milliseconds=1)
    insert_voice(
        warehouse_conn,
        [
            Voice(A, "join", at(0), C1),
            Voice(A, "leave", at(0) + 1499 * ms, C1),
            Voice(A, "join", at(1), C1),
            Voice(A, "leave", at(1) + 1500 * ms, C1),
            # half away from zero like numeric round(), not half to even: 2.5 s -> 3
            Voice(A, "join", at(2), C1),
            Voice(A, "leave", at(2) + 2500 * ms, C1),
            Voice(A, "join", at(3), C1),
            Voice(A, "leave", at(3) + timedelta(microseconds=499_999), C1),
            # near the cap: 11:59:59.5 -> 43,200 s
            Voice(A, "join", at(10), C1),
            Voice(A, "leave", at(10) + timedelta(hours=11, minutes=59, seconds=59.5), C1),
        ],
    )
    refresh(warehouse_url)
    assert [s[3] for s in sessions_of(warehouse_conn)] == [1, 2, 3, 0, 43_200]


def test_rule4_cap_when_the_ending_event_comes_later_than_start_plus_cap(warehouse_conn, warehouse_url):
    insert_voice(
        warehouse_conn,
        [
            Voice(A, "join", at(0), C1),
            Voice(A, "leave", at(hours=13), C1),  # 13 h later: capped at 12 h, then ignored
            Voice(B, "join", at(0), C2),
            Voice(B, "leave", at(hours=12), C2),  # exactly at the cap: the leave ends it
        ],
    )
    result = refresh(warehouse_url)
    assert sessions_of(warehouse_conn, A) == [(C1, at(0), at(hours=12), 43200, "timeout")]
    assert sessions_of(warehouse_conn, B) == [(C2, at(0), at(hours=12), 43200, "leave")]
    assert result.ignored_leaves == 1


def test_rule4_open_session_times_out_by_the_guilds_own_clock_not_the_wall_clock(
    warehouse_conn, warehouse_url
):
    insert_voice(warehouse_conn, [Voice(A, "join", at(0), C1)])
    refresh(warehouse_url)
    assert sessions_of(warehouse_conn) == [(C1, at(0), None, None, None)]  # data is years "old": still open

    insert_voice(warehouse_conn, [Voice(B, "join", at(hours=12), C2)])  # guild clock reaches start + cap
    refresh(warehouse_url)
    assert sessions_of(warehouse_conn) == [(C1, at(0), None, None, None)]  # not *past* it yet

    insert_voice(warehouse_conn, [Voice(B, "leave", at(hours=12, minutes=1), C2)])
    result = refresh(warehouse_url)
    assert sessions_of(warehouse_conn) == [(C1, at(0), at(hours=12), 43200, "timeout")]
    assert result.sessions_closed_by_timeout_now == 1


def test_rule4_collector_gap_ends_the_session_at_the_last_heartbeat_before_it(warehouse_conn, warehouse_url):
    beats = [at(m) for m in range(0, 31)] + [at(m) for m in range(60, 91)]  # down 30 → 60
    insert_heartbeats(warehouse_conn, beats)
    insert_voice(
        warehouse_conn,
        [
            Voice(A, "join", at(5), C1),
            Voice(A, "leave", at(70), C1),  # after the gap: nothing open any more
            Voice(B, "join", at(40), C2),  # starts inside the gap: the gap is not after its start
            Voice(B, "leave", at(80), C2),
        ],
    )
    result = refresh(warehouse_url)
    assert sessions_of(warehouse_conn, A) == [(C1, at(5), at(30), 1500, "collector_gap")]
    assert sessions_of(warehouse_conn, B) == [(C2, at(40), at(80), 2400, "leave")]
    assert result.ignored_leaves == 1


def test_rule4_gap_threshold_is_strict_and_a_guild_without_heartbeats_has_no_gaps(
    warehouse_conn, warehouse_url
):
    insert_heartbeats(warehouse_conn, [at(0), at(3), at(7)])  # 3 min apart: no gap; 4 min: gap at 3
    insert_voice(warehouse_conn, [Voice(A, "join", at(1), C1), Voice(A, "leave", at(20), C1)])
    other = GUILD + 5
    insert_voice(
        warehouse_conn, [Voice(B, "join", at(1), C1, guild=other), Voice(B, "leave", at(20), C1, guild=other)]
    )
    refresh(warehouse_url)
    assert sessions_of(warehouse_conn, A) == [(C1, at(1), at(3), 120, "collector_gap")]
    assert sessions_of(warehouse_conn, B) == [(C1, at(1), at(20), 1140, "leave")]


def test_rule4_late_heartbeats_that_fill_a_gap_reopen_the_session(warehouse_conn, warehouse_url):
    insert_heartbeats(warehouse_conn, [at(m) for m in range(0, 11)] + [at(m) for m in range(30, 41)])
    insert_voice(warehouse_conn, [Voice(A, "join", at(2), C1), Voice(A, "leave", at(35), C1)])
    refresh(warehouse_url)
    assert sessions_of(warehouse_conn) == [(C1, at(2), at(10), 480, "collector_gap")]
    insert_heartbeats(warehouse_conn, [at(m) for m in range(11, 30)], run_id="late-upload")
    result = refresh(warehouse_url)
    assert result.mode == "incremental" and result.collector_gaps_changed == 1
    assert sessions_of(warehouse_conn) == [(C1, at(2), at(35), 1980, "leave")]


def test_rule5_only_users_with_new_events_are_recomputed_from_their_earliest_new_event(
    warehouse_conn, warehouse_url
):
    insert_voice(
        warehouse_conn,
        [Voice(A, "join", at(0), C1), Voice(A, "leave", at(10), C1), Voice(B, "join", at(0), C2)],
    )
    assert refresh(warehouse_url).mode == "full"
    b_before = warehouse_conn.execute("SELECT session_id FROM pwr_core.voice_sessions ORDER BY 1").fetchall()
    # a late event for A in the middle of its history
    insert_voice(warehouse_conn, [Voice(A, "move", at(4), C3, from_channel=C1)])
    result = refresh(warehouse_url)
    assert (result.mode, result.users_recomputed) == ("incremental", 1)
    assert sessions_of(warehouse_conn) == [(C1, at(0), at(4), 240, "move"), (C3, at(4), at(10), 360, "leave")]
    b_after = warehouse_conn.execute(
        "SELECT s.session_id FROM pwr_core.voice_sessions s JOIN pwr_core.members m USING (member_id) "
        "WHERE m.discord_user_id = %s",
        (B,),
    ).fetchall()
    assert b_after[0] in b_before  # B's session was not rewritten


def test_rule5_a_run_with_nothing_new_changes_nothing(warehouse_conn, warehouse_url):
    insert_voice(warehouse_conn, [Voice(A, "join", at(0), C1)])
    refresh(warehouse_url)
    result = refresh(warehouse_url)
    assert (result.mode, result.users_recomputed, result.sessions_written) == ("incremental", 0, 0)


def test_duplicates_are_judged_as_instants_and_the_first_stored_copy_wins(warehouse_conn, warehouse_url):
    insert_voice(warehouse_conn, [Voice(A, "join", at(0), C1, username="first")])
    ts_other_offset = at(0).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert insert_voice(warehouse_conn, [Voice(A, "join", ts_other_offset, C1, username="second")]) == []
    refresh(warehouse_url)
    assert len(sessions_of(warehouse_conn)) == 1
    assert warehouse_conn.execute("SELECT username FROM pwr_core.members").fetchone()[0] == "first"


def test_rows_committed_late_by_a_concurrent_writer_are_not_skipped(warehouse_conn, warehouse_url):
    """A writer's transaction that took its id before the sessionizer ran but commits after it: an
    id watermark would skip its row; the snapshot watermark picks it up on the next run."""
    insert_voice(warehouse_conn, [Voice(A, "join", at(0), C1)])
    refresh(warehouse_url)
    slow = psycopg.connect(warehouse_url)
    insert_voice(slow, [Voice(A, "leave", at(5), C1)])  # not committed yet (smaller id)
    insert_voice(warehouse_conn, [Voice(B, "join", at(6), C2)])  # committed (larger id)
    refresh(warehouse_url)
    assert sessions_of(warehouse_conn) == [(C1, at(0), None, None, None)]
    slow.commit()
    slow.close()
    refresh(warehouse_url)
    assert sessions_of(warehouse_conn) == [(C1, at(0), at(5), 300, "leave")]


def test_a_failed_run_leaves_the_previous_state_intact(warehouse_conn, warehouse_url, monkeypatch):
    insert_voice(warehouse_conn, [Voice(A, "join", at(0), C1)])
    refresh(warehouse_url)
    before = stored_sessions(warehouse_conn)
    insert_voice(warehouse_conn, [Voice(A, "leave", at(5), C1)])

    from pwr_platform.transforms import sessionizer

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-run")

    monkeypatch.setattr(sessionizer.watermark, "store", killed)  # after every write, before commit
    with psycopg.connect(warehouse_url) as conn, pytest.raises(KeyboardInterrupt):
        refresh_voice_sessions(conn, max_session_hours=12, collector_gap_minutes=3)
    assert stored_sessions(warehouse_conn) == before
    monkeypatch.undo()
    refresh(warehouse_url)
    assert sessions_of(warehouse_conn) == [(C1, at(0), at(5), 300, "leave")]


def test_changed_settings_trigger_a_full_rebuild(warehouse_conn, warehouse_url):
    insert_voice(warehouse_conn, [Voice(A, "join", at(0), C1), Voice(A, "leave", at(hours=3), C1)])
    refresh(warehouse_url)
    result = refresh(warehouse_url, cap_hours=2)
    assert result.mode == "full"
    assert sessions_of(warehouse_conn) == [(C1, at(0), at(hours=2), 7200, "timeout")]


def test_two_runs_at_once_serialize(warehouse_conn, warehouse_url):
    insert_voice(warehouse_conn, [Voice(u, "join", at(0), C1) for u in range(1, 50)])
    refresh(warehouse_url)
    insert_voice(warehouse_conn, [Voice(u, "leave", at(5), C1) for u in range(1, 50)])
    errors = []

    def run():
        try:
            refresh(warehouse_url)
        except Exception as exc:  # pragma: no cover - shown in the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (
        warehouse_conn.execute(
            "SELECT count(*) FROM pwr_core.voice_sessions WHERE close_reason = 'leave'"
        ).fetchone()[0]
        == 49
    )


TABLE_DEFINITION = """
SELECT 'pwr_core.voice_sessions'::regclass::oid,
       (SELECT array_agg(indexdef ORDER BY indexname) FROM pg_indexes
        WHERE schemaname = 'pwr_core' AND tablename = 'voice_sessions'),
       (SELECT array_agg(conname || ' ' || pg_get_constraintdef(oid) ORDER BY conname) FROM pg_constraint
        WHERE conrelid = 'pwr_core.voice_sessions'::regclass),
       pg_get_serial_sequence('pwr_core.voice_sessions', 'session_id'),
       (SELECT relacl::text FROM pg_class WHERE oid = 'pwr_core.voice_sessions'::regclass),
       obj_description('pwr_core.voice_sessions'::regclass, 'pg_class')
"""

PARTITIONS = """
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid),
       (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid),
       (SELECT array_agg(conname ORDER BY conname) FROM pg_constraint WHERE conrelid = c.oid)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'pwr_core.voice_sessions'::regclass ORDER BY c.relname
"""

UNATTACHED = """
SELECT relname FROM pg_class WHERE relname LIKE 'voice_sessions_from_%' AND relkind = 'r' AND NOT relispartition
"""


def several_users(conn) -> None:
    """Five users in two guilds: rejoins, moves, caps, an open session, stray leaves, a gap."""
    events = []
    for k, user in enumerate([A, B, 1003, 1004, 1005]):
        guild = GUILD if k < 3 else GUILD + 1
        events += [
            Voice(user, "leave", at(k), C1, guild=guild),  # stray
            Voice(user, "join", at(10 + k), C1, guild=guild),
            Voice(user, "move", at(20 + k), C2, guild=guild, from_channel=C1),
            Voice(user, "join", at(30 + k), C3, guild=guild),
            Voice(user, "leave", at(40 + k), C3, guild=guild),
            Voice(user, "leave", at(41 + k), C3, guild=guild),  # stray
            Voice(user, "join", at(hours=20 + k), C1, guild=guild),  # capped at 12 h
            Voice(user, "join", at(hours=40), C2, guild=guild),  # still open
        ]
    insert_voice(conn, events)
    # one collector outage in the first guild, from minute 15 to 35
    insert_heartbeats(conn, [at(m) for m in range(0, 16)] + [at(m) for m in range(35, 60)])


def test_a_full_rebuild_swaps_partitions_and_keeps_the_table_its_rules_grants_and_comment(
    warehouse_conn, warehouse_url, monkeypatch
):
    monkeypatch.setattr(session_rebuild, "MIN_RAW_EVENTS_PER_SLICE", 0)
    before = warehouse_conn.execute(TABLE_DEFINITION).fetchone()
    assert "voice_sessions_start_channel" in " ".join(before[1]) and "pwr_reader=r/" in before[4]
    (old_partition,) = warehouse_conn.execute(PARTITIONS).fetchall()
    assert old_partition[1] == "FOR VALUES FROM (MINVALUE) TO (MAXVALUE)"
    several_users(warehouse_conn)
    result = refresh(warehouse_url, full=True, connections=3)
    assert result.mode == "full" and result.sessions_written == 25

    assert warehouse_conn.execute(TABLE_DEFINITION).fetchone() == before
    partitions = warehouse_conn.execute(PARTITIONS).fetchall()
    assert len(partitions) == 3 and old_partition[0] not in [p[0] for p in partitions]
    parent_constraints = {c.split(" ")[0] for c in before[2]} - {"voice_sessions_pkey"}
    for name, _bound, index_count, constraints in partitions:
        assert name.startswith("voice_sessions_from_")
        assert index_count == 4  # primary key, (member, guild, start), (start, channel), open
        assert constraints == sorted(parent_constraints | {f"{name}_pkey"})
    assert warehouse_conn.execute(UNATTACHED).fetchall() == []
    # later sessions get ids after the last slice's, so they land in its partition
    insert_voice(warehouse_conn, [Voice(A, "leave", at(hours=41), C2)])
    assert refresh(warehouse_url).mode == "incremental"
    assert sessions_of(warehouse_conn)[-1] == (C2, at(hours=40), at(hours=41), 3600, "leave")
    last_partition = partitions[-1][0]
    assert warehouse_conn.execute(
        "SELECT count(*) FROM pwr_core.voice_sessions s JOIN pg_class c ON c.oid = s.tableoid"
        " WHERE c.relname = %s AND s.session_end_ts = %s",
        (last_partition, at(hours=41)),
    ).fetchone() == (1,)


@pytest.mark.parametrize("connections", [2, 3])
def test_a_full_rebuild_in_several_connections_equals_one_connection(
    warehouse_conn, warehouse_url, monkeypatch, connections
):
    several_users(warehouse_conn)
    one = refresh(warehouse_url, full=True, connections=1)
    sessions = stored_sessions(warehouse_conn)
    gaps = warehouse_conn.execute("SELECT * FROM pwr_core.collector_gaps ORDER BY 1, 2").fetchall()
    assert len(warehouse_conn.execute(PARTITIONS).fetchall()) == 1
    assert one.ignored_leaves == 10 and gaps and any(s[7] == "collector_gap" for s in sessions)

    monkeypatch.setattr(session_rebuild, "MIN_RAW_EVENTS_PER_SLICE", 0)
    several = refresh(warehouse_url, full=True, connections=connections)
    assert len(warehouse_conn.execute(PARTITIONS).fetchall()) == connections
    assert stored_sessions(warehouse_conn) == sessions
    assert warehouse_conn.execute("SELECT * FROM pwr_core.collector_gaps ORDER BY 1, 2").fetchall() == gaps
    assert several.sessions_deleted == len(sessions)
    for field in ("sessions_written", "ignored_leaves", "users_recomputed", "collector_gaps_changed"):
        assert getattr(several, field) == getattr(one, field), field


def test_a_killed_slice_leaves_the_previous_sessions_and_no_half_built_table(
    warehouse_conn, warehouse_url, monkeypatch
):
    monkeypatch.setattr(session_rebuild, "MIN_RAW_EVENTS_PER_SLICE", 0)
    several_users(warehouse_conn)
    refresh(warehouse_url)
    before = (
        stored_sessions(warehouse_conn),
        warehouse_conn.execute(PARTITIONS).fetchall(),
        warehouse_conn.execute("SELECT read_snapshot::text FROM pwr_core.transform_watermarks").fetchall(),
    )
    failures = []

    def rebuild():
        with psycopg.connect(warehouse_url) as conn:
            try:
                refresh_voice_sessions(
                    conn, max_session_hours=12, collector_gap_minutes=3, full=True, rebuild_connections=2
                )
            except psycopg.Error as error:
                failures.append(error)

    # the slices wait for this lock when they add their foreign key to members: kill one there
    with psycopg.connect(warehouse_url) as blocker:
        blocker.execute("LOCK TABLE pwr_core.members IN EXCLUSIVE MODE")
        run = threading.Thread(target=rebuild)
        run.start()
        terminate_when_waiting_for_a_lock(
            warehouse_conn, "ALTER TABLE%FOREIGN KEY%", "a slice adding its foreign key"
        )
    run.join(timeout=60)
    assert not run.is_alive() and len(failures) == 1
    assert (
        stored_sessions(warehouse_conn),
        warehouse_conn.execute(PARTITIONS).fetchall(),
        warehouse_conn.execute("SELECT read_snapshot::text FROM pwr_core.transform_watermarks").fetchall(),
    ) == before
    assert warehouse_conn.execute(UNATTACHED).fetchall() == []
    assert refresh(warehouse_url, full=True, connections=2).sessions_written == 25
    assert stored_sessions(warehouse_conn) == before[0]


def test_a_full_rebuild_drops_tables_an_interrupted_one_left_behind(warehouse_conn, warehouse_url):
    warehouse_conn.execute(
        "CREATE TABLE pwr_core.voice_sessions_from_999 (LIKE pwr_core.voice_sessions);"
        "ALTER TABLE pwr_core.voice_sessions_from_999"
        " ADD FOREIGN KEY (member_id) REFERENCES pwr_core.members (member_id)"
    )
    insert_voice(warehouse_conn, [Voice(A, "join", at(0), C1), Voice(A, "leave", at(5), C1)])
    logged = []
    with psycopg.connect(warehouse_url) as conn:
        refresh_members(conn)
        refresh_voice_sessions(
            conn, max_session_hours=12, collector_gap_minutes=3, full=True, log=logged.append
        )
    assert warehouse_conn.execute(UNATTACHED).fetchall() == []
    assert any("voice_sessions_from_999" in line for line in logged)
    assert sessions_of(warehouse_conn) == [(C1, at(0), at(5), 300, "leave")]


def test_full_rebuilds_without_any_session_one_after_another(warehouse_conn, warehouse_url):
    # an empty slice still names its partition after its first id: the next rebuild must not reuse it
    for _ in range(3):
        assert refresh(warehouse_url, full=True).sessions_written == 0
    assert len(warehouse_conn.execute(PARTITIONS).fetchall()) == 1
