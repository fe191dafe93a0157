"""pwr_core.event_attendance: the computation, its partitions, and the attendance sensor."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from dagster import DagsterInstance, build_sensor_context

from pwr_platform.defs.partitions import event_partitions
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.sensors import event_attendance_sensor
from pwr_platform.transforms.attendance import refresh_attendance
from pwr_platform.transforms.events import refresh_events
from pwr_platform_tests.test_events import observe
from pwr_platform_tests.voice_data import Voice, at, insert_voice, refresh

EVENT_CH, OTHER_CH = 10, 99


def attendance(conn, event_id):
    return conn.execute(
        """
        SELECT m.discord_user_id, a.first_join_ts, a.last_leave_ts, a.total_voice_seconds, a.joined_on_time
        FROM pwr_core.event_attendance a JOIN pwr_core.members m USING (member_id)
        WHERE a.event_id = %s ORDER BY 1
        """,
        (event_id,),
    ).fetchall()


def event_id_of(conn, external):
    return conn.execute(
        "SELECT event_id FROM pwr_core.events WHERE external_event_id = %s", (external,)
    ).fetchone()[0]


def build(url):
    with psycopg.connect(url) as conn:
        refresh_events(conn)


def compute(url, event_id, grace=10):
    with psycopg.connect(url) as conn:
        return refresh_attendance(conn, event_id, max_session_hours=12, on_time_grace_minutes=grace)


def test_attendance_window_clipping_on_time_and_open_sessions(warehouse_conn, warehouse_url):
    # scheduled 19:00–20:00, actually held 19:01–20:00 (active at +61, completed at +120 minutes of T0=18:00)
    observe(warehouse_conn, 70, at(0), "scheduled", channel=EVENT_CH)
    observe(warehouse_conn, 70, at(61), "active", channel=EVENT_CH)
    observe(warehouse_conn, 70, at(120), "completed", channel=EVENT_CH)
    ms = timedelta(milliseconds=1)
    insert_voice(
        warehouse_conn,
        [
            # 1: early, two pieces inside the window, rounding per piece (29.5 s → 30, 30.5 s → 31)
            Voice(1, "join", at(50), EVENT_CH),
            Voice(1, "leave", at(61) + 29500 * ms, EVENT_CH),
            Voice(1, "join", at(70), EVENT_CH),
            Voice(1, "leave", at(70) + 30500 * ms, EVENT_CH),
            # 2: late (after 19:10), stays past the end
            Voice(2, "join", at(75), EVENT_CH),
            Voice(2, "leave", at(130), EVENT_CH),
            # 3: in another channel only: not an attendee
            Voice(3, "join", at(65), OTHER_CH),
            Voice(3, "leave", at(100), OTHER_CH),
            # 4: leaves exactly at the window start: touching is not overlapping
            Voice(4, "join", at(40), EVENT_CH),
            Voice(4, "leave", at(61), EVENT_CH),
            # 5: joins and is still there (open session): counts to the window end
            Voice(5, "join", at(110), EVENT_CH),
        ],
    )
    refresh(warehouse_url)
    build(warehouse_url)
    event_id = event_id_of(warehouse_conn, "discord:70")
    figures = compute(warehouse_url, event_id)
    assert figures["attendees"] == 3
    assert attendance(warehouse_conn, event_id) == [
        (1, at(50), at(70) + 30500 * ms, 30 + 31, True),
        (2, at(75), at(130), 45 * 60, False),
        (5, at(110), at(120), 10 * 60, False),
    ]
    # re-running the partition gives the same rows
    compute(warehouse_url, event_id)
    assert len(attendance(warehouse_conn, event_id)) == 3


def test_scheduled_window_when_actual_times_are_missing_and_grace_setting(warehouse_conn, warehouse_url):
    warehouse_conn.execute(
        """
        INSERT INTO pwr_raw.manual_events (external_event_id, name, scheduled_start_ts, scheduled_end_ts,
                                           channel_ids, status, source)
        VALUES ('m-1', 'Meeting', %s, %s, ARRAY[10]::bigint[], 'completed', 'test')
        """,
        (at(60), at(90)),
    )
    insert_voice(warehouse_conn, [Voice(1, "join", at(75), EVENT_CH), Voice(1, "leave", at(100), EVENT_CH)])
    refresh(warehouse_url)
    build(warehouse_url)
    event_id = event_id_of(warehouse_conn, "m-1")
    compute(warehouse_url, event_id, grace=15)
    assert attendance(warehouse_conn, event_id) == [(1, at(75), at(100), 15 * 60, True)]
    compute(warehouse_url, event_id, grace=10)
    assert attendance(warehouse_conn, event_id)[0][4] is False


# ------------------------------------------------------------------------- the sensor
@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as inst:
        yield inst


def tick(instance, url, cursor):
    """One sensor evaluation; applies its partition requests to the instance as the daemon would."""
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource(database_url=url)}
    )
    result = event_attendance_sensor(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_sensor_completing_an_event_requests_exactly_one_run_then_none(
    instance, warehouse_conn, warehouse_url
):
    observe(warehouse_conn, 80, at(0), "scheduled")
    build(warehouse_url)
    first = tick(instance, warehouse_url, None)
    event_id = str(event_id_of(warehouse_conn, "discord:80"))
    assert first.run_requests == []  # scheduled, not completed
    assert instance.get_dynamic_partitions(event_partitions.name) == [event_id]

    observe(warehouse_conn, 80, at(61), "active")
    observe(warehouse_conn, 80, at(120), "completed")
    build(warehouse_url)
    second = tick(instance, warehouse_url, first.cursor)
    assert [r.partition_key for r in second.run_requests] == [event_id]
    third = tick(instance, warehouse_url, second.cursor)
    assert third.run_requests == []


def test_sensor_two_events_completed_between_ticks_yield_two_runs(instance, warehouse_conn, warehouse_url):
    observe(warehouse_conn, 81, at(0), "scheduled")
    observe(warehouse_conn, 82, at(0), "scheduled")
    build(warehouse_url)
    cursor = tick(instance, warehouse_url, None).cursor
    observe(warehouse_conn, 81, at(100), "completed")
    observe(warehouse_conn, 82, at(101), "completed")
    build(warehouse_url)
    result = tick(instance, warehouse_url, cursor)
    assert sorted(r.partition_key for r in result.run_requests) == sorted(
        str(event_id_of(warehouse_conn, f"discord:{n}")) for n in (81, 82)
    )
    assert len({r.run_key for r in result.run_requests}) == 2


def test_sensor_catches_up_many_changed_events_in_one_run(instance, warehouse_conn, warehouse_url):
    """After downtime or a first start: one run over every partition, not one run process per event."""
    from dagster import materialize

    from pwr_platform.defs.core.event_attendance import event_attendance
    from pwr_platform.defs.sensors import CATCH_UP_THRESHOLD

    numbers = range(90, 90 + CATCH_UP_THRESHOLD + 3)
    for n in numbers:
        observe(warehouse_conn, n, at(0), "scheduled")
        observe(warehouse_conn, n, at(100), "completed")
    build(warehouse_url)
    result = tick(instance, warehouse_url, None)
    registered = instance.get_dynamic_partitions(event_partitions.name)
    assert len(registered) == len(numbers)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.partition_key is None
    assert request.tags["dagster/asset_partition_range_start"] == registered[0]
    assert request.tags["dagster/asset_partition_range_end"] == registered[-1]

    run = materialize(
        [event_attendance],
        instance=instance,
        tags=request.tags,
        resources={"warehouse": WarehouseResource(database_url=warehouse_url)},
    )
    assert run.success
    assert instance.get_materialized_partitions(event_attendance.key) == set(registered)
    assert tick(instance, warehouse_url, result.cursor).run_requests == []


def test_sensor_requests_again_when_times_are_edited_or_late_sessions_land(
    instance, warehouse_conn, warehouse_url
):
    observe(warehouse_conn, 83, at(0), "completed", channel=EVENT_CH)
    build(warehouse_url)
    cursor = tick(instance, warehouse_url, None).cursor
    assert tick(instance, warehouse_url, cursor).run_requests == []
    # times edited after completion
    observe(warehouse_conn, 83, at(5), "completed", channel=EVENT_CH, start=at(30))
    build(warehouse_url)
    result = tick(instance, warehouse_url, cursor)
    assert len(result.run_requests) == 1
    cursor = result.cursor
    # a late voice event in its channel, inside its window (scheduled 18:30–20:00)
    insert_voice(warehouse_conn, [Voice(9, "join", at(40), EVENT_CH), Voice(9, "leave", at(50), EVENT_CH)])
    refresh(warehouse_url)
    result = tick(instance, warehouse_url, cursor)
    assert len(result.run_requests) == 1
    # voice in another channel does not touch it
    insert_voice(warehouse_conn, [Voice(9, "join", at(55), OTHER_CH), Voice(9, "leave", at(57), OTHER_CH)])
    refresh(warehouse_url)
    assert tick(instance, warehouse_url, result.cursor).run_requests == []


def test_sensor_does_not_miss_an_event_committed_while_it_ticks(instance, warehouse_conn, warehouse_url):
    observe(warehouse_conn, 84, at(0), "scheduled")
    build(warehouse_url)
    cursor = tick(instance, warehouse_url, None).cursor
    slow = psycopg.connect(warehouse_url)
    observe(slow, 84, at(90), "completed")
    refresh_events(slow)  # completes the event, not committed yet
    during = tick(instance, warehouse_url, cursor)
    assert during.run_requests == []
    slow.commit()
    slow.close()
    after = tick(instance, warehouse_url, during.cursor)
    assert [r.partition_key for r in after.run_requests] == [str(event_id_of(warehouse_conn, "discord:84"))]


# ------------------------------------------------------------------------- fault drills
def run_attendance(instance, request, warehouse: WarehouseResource):
    from dagster import materialize

    from pwr_platform.defs.core.event_attendance import event_attendance

    return materialize(
        [event_attendance],
        instance=instance,
        partition_key=request.partition_key,
        tags=request.tags,
        resources={"warehouse": warehouse},
        raise_on_error=False,
    )


def test_attendance_run_failed_by_a_held_lock_is_retried_and_ends_correct(
    instance, warehouse_conn, warehouse_url
):
    """A failed attendance run must not leave its event stale: the next tick retries it."""
    observe(warehouse_conn, 86, at(0), "completed", channel=EVENT_CH)  # scheduled 19:00–20:00
    insert_voice(warehouse_conn, [Voice(5, "join", at(70), EVENT_CH), Voice(5, "leave", at(100), EVENT_CH)])
    refresh(warehouse_url)
    build(warehouse_url)
    first = tick(instance, warehouse_url, None)
    [request] = first.run_requests
    event_id = int(request.partition_key)

    # the fault: another session holds a lock on the attendance table past the run's lock_timeout
    impatient = WarehouseResource(
        database_url=psycopg.conninfo.make_conninfo(warehouse_url, options="-c lock_timeout=300ms")
    )
    with psycopg.connect(warehouse_url) as blocker:
        blocker.execute("LOCK TABLE pwr_core.event_attendance IN ACCESS EXCLUSIVE MODE")
        failed = run_attendance(instance, request, impatient)
    assert not failed.success
    assert attendance(warehouse_conn, event_id) == []

    second = tick(instance, warehouse_url, first.cursor)
    [retry] = second.run_requests
    assert retry.partition_key == request.partition_key
    assert retry.run_key == f"event_attendance:retry:{failed.run_id}"
    assert retry.tags["pwr/attempt"] == "2"
    assert run_attendance(instance, retry, WarehouseResource(database_url=warehouse_url)).success
    assert attendance(warehouse_conn, event_id) == [(5, at(70), at(100), 30 * 60, True)]
    assert tick(instance, warehouse_url, second.cursor).run_requests == []


def test_an_attendance_run_failing_every_time_is_tried_three_times_then_left_to_the_next_change(
    instance, warehouse_conn, warehouse_url
):
    from pwr_platform.defs.sensors import MAX_ATTEMPTS

    observe(warehouse_conn, 87, at(0), "completed", channel=EVENT_CH)
    build(warehouse_url)
    result = tick(instance, warehouse_url, None)
    broken = WarehouseResource(
        database_url=psycopg.conninfo.make_conninfo(warehouse_url, dbname="no_such_db")
    )
    attempts = 0
    while result.run_requests:
        [request] = result.run_requests
        assert not run_attendance(instance, request, broken).success
        attempts += 1
        result = tick(instance, warehouse_url, result.cursor)
    assert attempts == MAX_ATTEMPTS
    # a new change to the event requests it again
    observe(warehouse_conn, 87, at(5), "completed", channel=EVENT_CH, start=at(30))
    build(warehouse_url)
    assert len(tick(instance, warehouse_url, result.cursor).run_requests) == 1


def test_partitions_of_events_this_warehouse_lacks_are_skipped_not_fatal(
    instance, warehouse_conn, warehouse_url
):
    """Dagster knows partitions of another warehouse (or of a removed event): the attendance run,
    single or catch-up, skips them and writes this warehouse's events."""
    observe(warehouse_conn, 88, at(0), "completed", channel=EVENT_CH)
    insert_voice(warehouse_conn, [Voice(6, "join", at(70), EVENT_CH), Voice(6, "leave", at(80), EVENT_CH)])
    refresh(warehouse_url)
    build(warehouse_url)
    event_id = str(event_id_of(warehouse_conn, "discord:88"))
    instance.add_dynamic_partitions(event_partitions.name, ["9001", event_id, "9002"])
    from dagster import RunRequest

    catch_up = RunRequest(
        tags={"dagster/asset_partition_range_start": "9001", "dagster/asset_partition_range_end": "9002"}
    )
    result = run_attendance(instance, catch_up, WarehouseResource(database_url=warehouse_url))
    assert result.success
    materializations = result.asset_materializations_for_node("pwr_core__event_attendance")
    assert len(materializations) == 3  # one per partition of the range, the metadata on each
    assert materializations[0].metadata["skipped_events_not_in_warehouse"].value == 2
    # the range's count would read as each partition's row count in the UI: none is given
    assert all("dagster/partition_row_count" not in m.metadata for m in materializations)
    assert attendance(warehouse_conn, int(event_id)) == [(6, at(70), at(80), 10 * 60, True)]
    single = run_attendance(
        instance, RunRequest(partition_key="9001"), WarehouseResource(database_url=warehouse_url)
    )
    assert single.success
    own = run_attendance(
        instance, RunRequest(partition_key=event_id), WarehouseResource(database_url=warehouse_url)
    )
    (materialization,) = own.asset_materializations_for_node("pwr_core__event_attendance")
    assert materialization.metadata["dagster/partition_row_count"].value == 1  # the event's one attendee
