"""core_refresh_sensor: runs the core refresh only when raw data arrived since the last one."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance, RunRequest, SkipReason, build_sensor_context

from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.sensors import core_refresh_sensor
from pwr_platform_tests.voice_data import Voice, at, insert_heartbeats, insert_voice, refresh


@pytest.fixture
def tick(warehouse_url):
    with DagsterInstance.ephemeral() as instance:

        def evaluate():
            context = build_sensor_context(
                instance=instance, resources={"warehouse": WarehouseResource(database_url=warehouse_url)}
            )
            return core_refresh_sensor(context)

        yield evaluate


def test_requests_a_run_only_for_new_raw_data(tick, warehouse_conn, warehouse_url):
    assert isinstance(tick(), SkipReason)  # empty warehouse
    insert_voice(warehouse_conn, [Voice(1, "join", at(0), 10)])
    request = tick()
    assert isinstance(request, RunRequest) and request.tags["pwr/trigger"] == "voice"
    refresh(warehouse_url)
    assert isinstance(tick(), SkipReason)


def test_a_channel_record_alone_requests_a_run_until_the_channel_names_read_it(
    tick, warehouse_conn, warehouse_url
):
    """A channel renamed while nobody is in voice: no voice event arrives, but the record must still
    reach pwr_core.voice_channels (which the live run refreshes)."""
    import psycopg

    from pwr_platform.transforms.voice_channels import refresh_voice_channels
    from pwr_platform_tests.voice_data import GUILD

    warehouse_conn.execute(
        "INSERT INTO pwr_raw.discord_channel_events"
        " (discord_guild_id, discord_channel_id, event_type, event_ts, channel_name)"
        " VALUES (%s, 12, 'update', %s, 'Raid night')",
        (GUILD, at(0)),
    )
    request = tick()
    assert isinstance(request, RunRequest) and request.tags["pwr/trigger"] == "channel_records"
    with psycopg.connect(warehouse_url) as conn:
        assert refresh_voice_channels(conn).channels_total == 1
    assert isinstance(tick(), SkipReason)


def test_heartbeats_trigger_only_when_they_can_move_a_gap(tick, warehouse_conn, warehouse_url):
    insert_heartbeats(warehouse_conn, [at(0), at(1)])
    insert_voice(warehouse_conn, [Voice(1, "join", at(0), 10)])
    refresh(warehouse_url)
    insert_heartbeats(warehouse_conn, [at(2), at(3)])  # the collector is up: nothing to do
    assert isinstance(tick(), SkipReason)
    insert_heartbeats(warehouse_conn, [at(30)])  # back after an outage: a gap appears
    request = tick()
    assert isinstance(request, RunRequest) and request.tags["pwr/trigger"] == "heartbeats"


def test_the_run_carries_today_and_only_the_core_before_the_partitions_start(
    tick, warehouse_conn, monkeypatch
) -> None:
    """Issue 16: the refresh is one live_refresh_job run for today's daily partition (core, daily,
    member_trend together); with PWR_PARTITIONS_START still in the future there is no such
    partition, so the core job runs alone instead of the request failing."""
    from datetime import datetime, timedelta

    from pwr_platform.settings import get_settings

    insert_voice(warehouse_conn, [Voice(1, "join", at(0), 10)])
    today = datetime.now(get_settings().tz).date()
    request = tick()
    assert (request.job_name, request.partition_key) == ("live_refresh_job", today.isoformat())
    monkeypatch.setenv("PWR_PARTITIONS_START", (today + timedelta(days=7)).isoformat())
    get_settings.cache_clear()
    try:
        request = tick()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert (request.job_name, request.partition_key) == ("core_refresh_job", None)
