"""Collector health visible in Dagster: checks on the raw heartbeats and the core refresh.

Raw voice events are the one thing the platform cannot rebuild, so a silent collector must show
in the UI at once. Two asset checks (``sql/collector_health.sql``), both failing past
PWR_COLLECTOR_GAP_MINUTES × 5:

* ``collector_is_heartbeating`` (on the raw voice events): some guild's newest heartbeat is older.
* ``core_refresh_keeps_up`` (on the voice sessions): a raw voice event has waited longer for the
  sessionizer (the core refresh has not run: daemon down, sensor stopped, runs failing).

A check only has a colour once it runs, and nothing else runs while the collector is silent; so
``collector_health_sensor`` evaluates both every five minutes inside the daemon (a query, no run
process) and records the results as the checks' evaluations: red while silent, green again with
the next heartbeat. Both can also be run by hand from the UI.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    asset_check,
    sensor,
)

from pwr_platform.defs.keys import VOICE_EVENTS, VOICE_SESSIONS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.settings import get_settings
from pwr_platform.warehouse.sql_runner import sql_statements

SILENCE_FACTOR = 5


def silence_limit_minutes() -> int:
    return get_settings().collector_gap_minutes * SILENCE_FACTOR


@dataclass(frozen=True)
class Health:
    """One check's verdict, in the terms both an asset check and a sensor evaluation need."""

    asset_key: AssetKey
    check_name: str
    passed: bool
    description: str
    metadata: dict

    def as_result(self) -> AssetCheckResult:
        return AssetCheckResult(
            passed=self.passed,
            severity=AssetCheckSeverity.ERROR,
            description=self.description,
            metadata=self.metadata,
        )

    def as_evaluation(self) -> AssetCheckEvaluation:
        return AssetCheckEvaluation(
            asset_key=self.asset_key,
            check_name=self.check_name,
            passed=self.passed,
            severity=AssetCheckSeverity.ERROR,
            description=self.description,
            metadata=self.metadata,
        )


def heartbeat_health(warehouse: WarehouseResource) -> Health:
    limit = silence_limit_minutes()
    with warehouse.connect() as conn:
        guilds = conn.execute(sql_statements("collector_health")["heartbeat_silence"]).fetchall()
    if not guilds:
        return Health(
            VOICE_EVENTS,
            "collector_is_heartbeating",
            True,
            "No collector has written a heartbeat yet (log imports only).",
            {"limit_minutes": limit, "guilds": 0},
        )
    guild, last, minutes = guilds[0]
    silent = [str(g) for g, _, m in guilds if m > limit]
    text = (
        f"guild {guild}: last heartbeat {last.isoformat()} ({minutes} min ago; limit {limit} min = "
        f"PWR_COLLECTOR_GAP_MINUTES × {SILENCE_FACTOR})"
    )
    return Health(
        VOICE_EVENTS,
        "collector_is_heartbeating",
        not silent,
        f"Collector silent: {text}" if silent else f"Collector alive: {text}",
        {
            "limit_minutes": limit,
            "stalest_guild_silent_minutes": minutes,
            "silent_guilds": ", ".join(silent) or "none",
        },
    )


def core_refresh_health(warehouse: WarehouseResource) -> Health:
    limit = silence_limit_minutes()
    with warehouse.connect() as conn:
        waiting, last_run = conn.execute(sql_statements("collector_health")["core_refresh_lag"]).fetchone()
    late = waiting is not None and waiting > limit
    last = last_run.isoformat() if last_run else "never"
    if waiting is None:
        text = f"no raw voice event waits for the core refresh (last run {last})"
    else:
        text = f"the oldest raw voice event not yet sessionized waited {waiting} min (limit {limit} min; last run {last})"
    return Health(
        VOICE_SESSIONS,
        "core_refresh_keeps_up",
        not late,
        ("Core refresh has not run: " if late else "Core refresh keeps up: ") + text,
        {
            "limit_minutes": limit,
            "oldest_waiting_minutes": waiting if waiting is not None else 0.0,
            "last_run": last,
        },
    )


@asset_check(
    asset=VOICE_EVENTS,
    description="The collector's newest heartbeat (per guild) is at most PWR_COLLECTOR_GAP_MINUTES × 5 old.",
)
def collector_is_heartbeating(warehouse: WarehouseResource) -> AssetCheckResult:
    return heartbeat_health(warehouse).as_result()


@asset_check(
    asset=VOICE_SESSIONS,
    description="No raw voice event has waited for the core refresh longer than PWR_COLLECTOR_GAP_MINUTES × 5.",
)
def core_refresh_keeps_up(warehouse: WarehouseResource) -> AssetCheckResult:
    return core_refresh_health(warehouse).as_result()


@sensor(
    name="collector_health_sensor",
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Every 5 minutes: records the collector_is_heartbeating and core_refresh_keeps_up checks, so a "
        "silent collector or a stuck core refresh turns red in the UI (no run is launched)."
    ),
)
def collector_health_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource) -> SensorResult:
    verdicts = [heartbeat_health(warehouse), core_refresh_health(warehouse)]
    for verdict in verdicts:
        if not verdict.passed:
            context.log.error(verdict.description)
    return SensorResult(asset_events=[v.as_evaluation() for v in verdicts])
