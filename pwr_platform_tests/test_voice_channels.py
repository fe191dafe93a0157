"""pwr_core.voice_channels: each channel's newest name and a label that names one channel.

Against a real PostgreSQL: the newest name by event time wins (a late, older event does not take
it back), a move names both channels, empty names are no names, channels that share a name get
their id in the label (and lose it when a rename frees the name), incremental runs in any
chunking and arrival order equal a rebuild and a pure-Python model, and the asset runs in the
core refresh job through Dagster.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pwr_platform.transforms.voice_channels import refresh_voice_channels
from pwr_platform_tests.voice_data import (
    GUILD,
    T0,
    Voice,
    at,
    insert_voice,
    terminate_when_waiting_for_a_lock,
)


def run(url: str, *, full: bool = False):
    with psycopg.connect(url) as conn:
        return refresh_voice_channels(conn, full=full)


def insert_channel_records(conn, records: list[tuple[int, str, object, str]]) -> None:
    """Channel records as the collector writes them: (channel, event_type, event_ts, name)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO pwr_raw.discord_channel_events"
            " (discord_guild_id, discord_channel_id, event_type, event_ts, channel_name, raw_payload)"
            " VALUES (%s, %s, %s, %s, %s, '{}') ON CONFLICT DO NOTHING",
            [(GUILD, channel, kind, ts, name) for channel, kind, ts, name in records],
        )


def channels(conn) -> dict[int, tuple[str, str]]:
    rows = conn.execute(
        "SELECT discord_channel_id, channel_name, channel_label FROM pwr_core.voice_channels"
    ).fetchall()
    return {channel: (name, label) for channel, name, label in rows}


def test_newest_name_by_event_time_from_joins_leaves_and_both_ends_of_a_move(warehouse_conn, warehouse_url):
    insert_voice(
        warehouse_conn,
        [
            Voice(1, "join", at(0), 10, channel_name="General"),
            Voice(1, "move", at(5), 11, from_channel=10, channel_name="Squad 1", from_channel_name="General"),
            Voice(1, "leave", at(9), 11, channel_name="Squad 1"),
            Voice(2, "join", at(1), 12),  # an older collector: no name
            Voice(3, "join", at(2), 13, channel_name=""),  # an empty name is no name
        ],
    )
    result = run(warehouse_url)
    assert (result.mode, result.channels_total) == ("full", 2)
    assert channels(warehouse_conn) == {10: ("General", "#General"), 11: ("Squad 1", "#Squad 1")}

    # renamed on Discord: the next event carries the new name; a late log line with an older name
    # (backfilled after it) does not take it back
    insert_voice(warehouse_conn, [Voice(2, "join", at(30), 10, channel_name="Lobby")])
    assert run(warehouse_url).mode == "incremental"
    insert_voice(warehouse_conn, [Voice(4, "join", at(20), 10, channel_name="General (old)")])
    result = run(warehouse_url)
    assert (result.mode, result.names_written) == ("incremental", 0)
    assert channels(warehouse_conn)[10] == ("Lobby", "#Lobby")
    seen = warehouse_conn.execute(
        "SELECT name_seen_ts, discord_guild_id FROM pwr_core.voice_channels WHERE discord_channel_id = 10"
    ).fetchone()
    assert seen == (at(30), GUILD)

    incremental = channels(warehouse_conn)
    assert run(warehouse_url, full=True).mode == "full"
    assert channels(warehouse_conn) == incremental


def test_a_channel_renamed_while_nobody_is_in_it_takes_its_new_name_from_the_channel_record(
    warehouse_conn, warehouse_url
):
    """The collector records every voice channel at connect and each rename: the name changes at
    the next run, with no voice event in the channel; a record older than a voice event's name
    does not take it back (newest by event time, from both sources)."""
    insert_voice(warehouse_conn, [Voice(1, "join", at(0), 10, channel_name="General")])
    insert_channel_records(
        warehouse_conn, [(10, "snapshot", at(0), "General"), (12, "snapshot", at(0), "Quiet")]
    )
    assert run(warehouse_url).channels_total == 2  # Quiet: named although nobody ever joined it
    assert channels(warehouse_conn) == {10: ("General", "#General"), 12: ("Quiet", "#Quiet")}

    insert_channel_records(warehouse_conn, [(12, "update", at(30), "Raid night")])
    result = run(warehouse_url)
    assert (result.mode, result.names_written) == ("incremental", 1)
    assert channels(warehouse_conn)[12] == ("Raid night", "#Raid night")

    # a voice event at 40 names channel 10 "Lobby"; a rename record stamped earlier (a slow spool
    # replay) is older, so it does not win; a later one does
    insert_voice(warehouse_conn, [Voice(2, "join", at(40), 10, channel_name="Lobby")])
    insert_channel_records(warehouse_conn, [(10, "update", at(35), "Old lobby")])
    run(warehouse_url)
    assert channels(warehouse_conn)[10] == ("Lobby", "#Lobby")
    insert_channel_records(
        warehouse_conn, [(10, "update", at(50), "Raid night"), (11, "create", at(50), "New")]
    )
    run(warehouse_url)
    incremental = channels(warehouse_conn)
    assert incremental == {
        10: ("Raid night", "#Raid night (10)"),  # two channels share the name: both labelled with ids
        11: ("New", "#New"),
        12: ("Raid night", "#Raid night (12)"),
    }
    run(warehouse_url, full=True)
    assert channels(warehouse_conn) == incremental


def test_channels_sharing_a_name_are_labelled_with_their_ids_until_a_rename_frees_it(
    warehouse_conn, warehouse_url
):
    insert_voice(
        warehouse_conn,
        [
            Voice(1, "join", at(0), 10, channel_name="General"),
            Voice(2, "join", at(0), 20, channel_name="General"),
        ],
    )
    run(warehouse_url)
    assert channels(warehouse_conn) == {10: ("General", "#General (10)"), 20: ("General", "#General (20)")}

    insert_voice(warehouse_conn, [Voice(2, "leave", at(10), 20, channel_name="Games")])
    result = run(warehouse_url)
    assert result.labels_changed == 2
    assert channels(warehouse_conn) == {10: ("General", "#General"), 20: ("Games", "#Games")}


def test_the_core_refresh_job_names_the_channels(warehouse_url, warehouse_conn):
    """Through Dagster, as the sensor's runs do: the asset is in the core refresh job."""
    from dagster import DagsterInstance

    from pwr_platform.definitions import build_definitions
    from pwr_platform.defs.keys import VOICE_CHANNELS
    from pwr_platform.defs.resources import WarehouseResource

    insert_voice(warehouse_conn, [Voice(1, "join", at(0), 10, channel_name="General")])
    defs = build_definitions(WarehouseResource(database_url=warehouse_url))
    for name in ("core_refresh_job", "live_refresh_job"):
        assert VOICE_CHANNELS in defs.resolve_job_def(name).asset_layer.executable_asset_keys, name
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("core_refresh_job").execute_in_process(instance=instance)
        assert result.success
        (materialized,) = [m for m in result.asset_materializations_for_node("pwr_core__voice_channels")]
    assert materialized.metadata["channels_total"].value == 1
    assert channels(warehouse_conn) == {10: ("General", "#General")}


def test_a_run_killed_after_writing_names_keeps_the_stored_ones_and_the_next_run_takes_the_new(
    warehouse_conn, warehouse_url
):
    """The fault drill: the run's server process is terminated after it wrote the new names and
    labels, while it waits to store its watermark; nothing of it may remain, and the next run
    (which still sees those raw rows as new) must give what a rebuild gives."""
    insert_voice(warehouse_conn, [Voice(1, "join", at(0), 10, channel_name="General")])
    run(warehouse_url)
    watermark_sql = "SELECT read_snapshot::text FROM pwr_core.transform_watermarks WHERE transform_name = 'voice_channels'"
    before = (channels(warehouse_conn), warehouse_conn.execute(watermark_sql).fetchall())
    insert_voice(
        warehouse_conn,
        [
            Voice(2, "join", at(5), 10, channel_name="Lobby"),
            Voice(3, "join", at(6), 11, channel_name="Games"),
        ],
    )
    failures: list[Exception] = []

    def refresh():
        try:
            run(warehouse_url)
        except psycopg.OperationalError as error:
            failures.append(error)

    # the run reads the watermark row without locking it; storing it waits for this row lock
    with psycopg.connect(warehouse_url) as blocker:
        blocker.execute(
            "SELECT 1 FROM pwr_core.transform_watermarks WHERE transform_name = 'voice_channels' FOR UPDATE"
        )
        thread = threading.Thread(target=refresh)
        thread.start()
        terminate_when_waiting_for_a_lock(
            warehouse_conn, "%INSERT INTO pwr_core.transform_watermarks%", "the run storing its watermark"
        )
    thread.join(timeout=60)
    assert not thread.is_alive() and len(failures) == 1
    assert (channels(warehouse_conn), warehouse_conn.execute(watermark_sql).fetchall()) == before

    result = run(warehouse_url)
    assert (result.mode, result.names_written) == ("incremental", 2)
    assert channels(warehouse_conn) == {10: ("Lobby", "#Lobby"), 11: ("Games", "#Games")}
    run(warehouse_url, full=True)
    assert channels(warehouse_conn) == {10: ("Lobby", "#Lobby"), 11: ("Games", "#Games")}


# ---------------------------------------------------------------------------- property
NAMES = ["General", "Lounge", "Squad", ""]

named_events = st.builds(
    Voice,
    user=st.sampled_from([1, 2, 3]),
    event_type=st.sampled_from(["join", "leave", "move"]),
    ts=st.integers(0, 120).map(lambda m: T0 + timedelta(minutes=m)),  # ties happen
    channel=st.sampled_from([10, 11, 12]),
    channel_name=st.sampled_from([*NAMES, None]),
).map(
    lambda v: (
        Voice(
            v.user,
            v.event_type,
            v.ts,
            v.channel,
            channel_name=v.channel_name,
            from_channel=13,
            from_channel_name="Squad",
        )
        if v.event_type == "move"
        else v
    )
)


channel_records = st.tuples(
    st.sampled_from([10, 11, 12, 14]),
    st.sampled_from(["snapshot", "create", "update"]),
    st.integers(0, 120).map(lambda m: T0 + timedelta(minutes=m)),
    st.sampled_from(NAMES),
)


def model(events: list[Voice], records: list[tuple] = ()) -> dict[int, tuple[str, str]]:
    """ARCHITECTURE-free restatement: per channel the (event time, name) maximum over named
    observations (voice payloads and channel records alike), then '#name', with the id when
    another channel has the same name."""
    newest: dict[int, tuple] = {}
    observations = [(channel, ts, name) for channel, _, ts, name in records]
    for e in events:
        observations.append((e.channel, e.ts, e.channel_name))
        if e.event_type == "move":
            observations.append((e.from_channel, e.ts, e.from_channel_name))
    for channel, ts, name in observations:
        if name:
            newest[channel] = max(newest.get(channel, (ts, name)), (ts, name))
    counts: dict[str, int] = {}
    for _, name in newest.values():
        counts[name] = counts.get(name, 0) + 1
    return {
        c: (name, f"#{name}" + (f" ({c})" if counts[name] > 1 else "")) for c, (_, name) in newest.items()
    }


@pytest.fixture
def conn(warehouse_url: str):
    with psycopg.connect(warehouse_url, autocommit=True) as c:
        yield c


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(st.one_of(named_events, channel_records), max_size=25),
    data=st.data(),
)
def test_incremental_in_any_chunking_and_order_equals_a_rebuild_and_the_model(
    conn, warehouse_url, events, data
):
    """Voice events and channel records, arriving in any order and split into any runs."""
    conn.execute(
        "TRUNCATE pwr_raw.discord_voice_events, pwr_raw.discord_channel_events, pwr_core.voice_channels"
    )
    conn.execute("DELETE FROM pwr_core.transform_watermarks WHERE transform_name = 'voice_channels'")
    arrival = data.draw(st.permutations(events), label="arrival order")
    cuts = sorted(data.draw(st.sets(st.integers(0, len(arrival)), max_size=4), label="runs after"))
    for start, end in zip([0, *cuts], [*cuts, len(arrival)], strict=True):
        chunk = arrival[start:end]
        insert_voice(conn, [e for e in chunk if isinstance(e, Voice)])
        insert_channel_records(conn, [e for e in chunk if not isinstance(e, Voice)])
        run(warehouse_url)
    incremental = channels(conn)

    stored = conn.execute(
        "SELECT discord_user_id, event_type, event_ts, discord_channel_id, raw_payload FROM pwr_raw.discord_voice_events"
    ).fetchall()
    expected = model(
        [
            Voice(
                u,
                t,
                ts,
                c,
                channel_name=p.get("channel_name"),
                from_channel=int(p["from_channel_id"]) if "from_channel_id" in p else None,
                from_channel_name=p.get("from_channel_name"),
            )
            for u, t, ts, c, p in stored
        ],
        conn.execute(
            "SELECT discord_channel_id, event_type, event_ts, channel_name FROM pwr_raw.discord_channel_events"
        ).fetchall(),
    )
    assert incremental == expected
    run(warehouse_url, full=True)
    assert channels(conn) == incremental


def test_a_serialization_failure_is_retried_then_reported() -> None:
    from pwr_platform.transforms.watermark import with_serialization_retries

    failures, logged = [psycopg.errors.SerializationFailure("concurrent update")] * 2, []

    def run_once():
        if failures:
            raise failures.pop()
        return "done"

    assert with_serialization_retries(run_once, logged.append) == "done"
    assert logged == [f"serialization failure (attempt {n}); retrying" for n in (1, 2)]
    failures = [psycopg.errors.SerializationFailure("again")] * 3
    with pytest.raises(psycopg.errors.SerializationFailure):
        with_serialization_retries(run_once)
