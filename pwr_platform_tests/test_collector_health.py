"""Collector health visible in Dagster (issue 13, promise 13): the checks on the raw heartbeats
and the core refresh turn red when the collector has been silent longer than
PWR_COLLECTOR_GAP_MINUTES × 5 or raw data waits for the core refresh, and green again after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import DagsterInstance, materialize

from pwr_platform.defs.core.collector_health import (
    collector_health_sensor,
    collector_is_heartbeating,
    silence_limit_minutes,
)
from pwr_platform.defs.keys import VOICE_EVENTS
from pwr_platform.defs.raw.discord_voice_events import discord_voice_events
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform_tests.pipeline_driver import tick
from pwr_platform_tests.voice_data import insert_heartbeats, refresh


def verdicts(instance, url) -> dict[str, bool]:
    result = tick(collector_health_sensor, instance, url)
    return {e.check_name: e.passed for e in result.asset_events}


def test_collector_silent_turns_the_check_red_and_heartbeats_turn_it_green(warehouse_conn, warehouse_url):
    now = datetime.now(UTC)
    limit = silence_limit_minutes()
    with DagsterInstance.ephemeral() as instance:
        assert verdicts(instance, warehouse_url)["collector_is_heartbeating"]  # no collector yet
        # the collector went silent: its last heartbeat is older than the limit
        insert_heartbeats(warehouse_conn, [now - timedelta(minutes=limit + 60 - i) for i in range(3)])
        assert verdicts(instance, warehouse_url) == {
            "collector_is_heartbeating": False,
            "core_refresh_keeps_up": True,
        }
        # heartbeats resume
        insert_heartbeats(warehouse_conn, [now])
        assert verdicts(instance, warehouse_url)["collector_is_heartbeating"]


def test_raw_data_waiting_for_the_core_refresh_turns_its_check_red_until_it_runs(
    warehouse_conn, warehouse_url
):
    limit = silence_limit_minutes()
    warehouse_conn.execute(
        """
        INSERT INTO pwr_raw.discord_voice_events
            (discord_user_id, discord_guild_id, discord_channel_id, event_type, event_ts, raw_payload, ingested_at)
        VALUES (1, 2, 3, 'join', now() - interval '2 hours', '{}'::jsonb, now() - make_interval(mins => %s))
        """,
        (limit + 1,),
    )
    with DagsterInstance.ephemeral() as instance:
        assert not verdicts(instance, warehouse_url)["core_refresh_keeps_up"]
        refresh(warehouse_url)
        assert verdicts(instance, warehouse_url)["core_refresh_keeps_up"]


def test_the_heartbeat_check_runs_as_a_real_asset_check(warehouse_conn, warehouse_url):
    """Run from the UI (or with the raw asset), the same rule: a stale heartbeat fails the check."""
    insert_heartbeats(warehouse_conn, [datetime.now(UTC) - timedelta(minutes=silence_limit_minutes() + 5)])
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [discord_voice_events, collector_is_heartbeating],
            instance=instance,
            resources={"warehouse": WarehouseResource(database_url=warehouse_url)},
            selection=[VOICE_EVENTS],
            raise_on_error=False,
        )
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == "collector_is_heartbeating" and not evaluation.passed
