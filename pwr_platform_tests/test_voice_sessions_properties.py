"""Property tests of the sessionizer on random event streams (ARCHITECTURE.md rules 1–5).

Random joins, leaves and moves for a few users and channels, with duplicates, out-of-order and
late arrivals (the stream is stored shuffled, in random chunks, with an incremental run after each
chunk) and collector heartbeats with gaps (also arriving late). After the last chunk the
incrementally maintained sessions must equal a full rebuild from raw (cut into 1–3 slices built in
as many connections), and both must equal an
independent event-by-event model of the rules; sessions never overlap and every duration is the
rounded time between its start and end.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pwr_platform.transforms import session_rebuild
from pwr_platform_tests.voice_data import (
    GUILD,
    T0,
    Voice,
    insert_heartbeats,
    insert_voice,
    model_sessions,
    refresh,
    stored_sessions,
)

OTHER_GUILD = GUILD + 1
CAP_HOURS = 2  # small cap so random streams hit it often

voice_events = st.builds(
    Voice,
    user=st.sampled_from([1, 2, 3]),
    event_type=st.sampled_from(["join", "leave", "move"]),
    # minute grid with a few odd milliseconds: ties (same instant) and rounding both happen
    ts=st.tuples(st.integers(0, 6 * 60), st.sampled_from([0, 0, 0, 499, 500, 501])).map(
        lambda t: T0 + timedelta(minutes=t[0], milliseconds=t[1])
    ),
    channel=st.sampled_from([10, 11, 12]),
    guild=st.sampled_from([GUILD, GUILD, OTHER_GUILD]),
)

heartbeat_times = st.lists(st.integers(0, 6 * 60), max_size=40).map(
    lambda minutes: [T0 + timedelta(minutes=m) for m in minutes]
)


def reset(conn: psycopg.Connection) -> None:
    conn.execute(
        "TRUNCATE pwr_raw.discord_voice_events, pwr_raw.collector_heartbeats, pwr_core.voice_sessions, "
        "pwr_core.collector_gaps, pwr_core.transform_watermarks, pwr_core.members CASCADE"
    )


def overlapping_pairs(conn: psycopg.Connection) -> int:
    return conn.execute(
        """
        SELECT count(*) FROM pwr_core.voice_sessions a JOIN pwr_core.voice_sessions b
          ON a.member_id = b.member_id AND a.discord_guild_id = b.discord_guild_id
         AND a.session_id < b.session_id
         AND a.session_start_ts < coalesce(b.session_end_ts, 'infinity')
         AND b.session_start_ts < coalesce(a.session_end_ts, 'infinity')
         AND a.session_start_ts < coalesce(a.session_end_ts, 'infinity')
         AND b.session_start_ts < coalesce(b.session_end_ts, 'infinity')
        """
    ).fetchone()[0]


@pytest.fixture
def conn(warehouse_url: str):
    with psycopg.connect(warehouse_url, autocommit=True) as c:
        yield c


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(voice_events, max_size=40),
    beats=heartbeat_times,
    data=st.data(),
)
def test_incremental_in_any_chunking_equals_full_rebuild_and_the_model(
    conn, warehouse_url, monkeypatch, events, beats, data
) -> None:
    reset(conn)
    # the full rebuild below cuts even these few users into as many slices as it has connections
    monkeypatch.setattr(session_rebuild, "MIN_RAW_EVENTS_PER_SLICE", 0)
    connections = data.draw(st.integers(1, 3), label="rebuild connections")
    # duplicates: re-send some events (first stored copy wins)
    events = events + data.draw(st.lists(st.sampled_from(events), max_size=5) if events else st.just([]))
    stored_order = data.draw(st.permutations(events))  # out-of-order arrival
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stored_order)), max_size=4)))
    beat_cuts = sorted(data.draw(st.sets(st.integers(0, len(beats)), max_size=3)))
    chunks = list(zip([0, *cuts], [*cuts, len(stored_order)], strict=True))
    beat_chunks = list(zip([0, *beat_cuts], [*beat_cuts, len(beats)], strict=True))
    # interleave: heartbeat chunk i arrives with event chunk i (extra ones at the end)
    for i in range(max(len(chunks), len(beat_chunks))):
        if i < len(chunks):
            insert_voice(conn, stored_order[chunks[i][0] : chunks[i][1]])
        if i < len(beat_chunks):
            insert_heartbeats(conn, beats[beat_chunks[i][0] : beat_chunks[i][1]])
        refresh(warehouse_url, cap_hours=CAP_HOURS)

    incremental = stored_sessions(conn)
    assert overlapping_pairs(conn) == 0

    # the model sees exactly the stored rows, in id order (first stored copy wins)
    rows = conn.execute(
        "SELECT discord_user_id, event_type, event_ts, discord_channel_id, discord_guild_id "
        "FROM pwr_raw.discord_voice_events ORDER BY id"
    ).fetchall()
    stored_events = [Voice(user=r[0], event_type=r[1], ts=r[2], channel=r[3], guild=r[4]) for r in rows]
    expected, ignored = model_sessions(stored_events, {GUILD: beats}, cap_hours=CAP_HOURS)
    assert incremental == expected

    result = refresh(warehouse_url, full=True, cap_hours=CAP_HOURS, connections=connections)
    assert result.mode == "full"
    assert stored_sessions(conn) == incremental
    assert result.ignored_leaves == ignored

    # total session time = the rounded time between each session's start and end
    for _user, _guild, _channel, start, end, duration, completed, _reason in incremental:
        assert completed == (end is not None)
        if end is not None:
            assert 0 <= duration <= CAP_HOURS * 3600
            assert end - start <= timedelta(hours=CAP_HOURS)
