"""The core assets materialize through Dagster (in process and from the `dagster` CLI) and their
checks pass on realistic data — and fail when the data breaks a rule."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize

from pwr_platform.defs.core import checks, event_attendance, events, members, voice_sessions
from pwr_platform.defs.raw.discord_voice_events import discord_voice_events
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.runtime.dagster_instance import REPO_ROOT
from pwr_platform_tests.test_events import observe
from pwr_platform_tests.voice_data import Voice, at, insert_heartbeats, insert_voice

CORE = [members.members, voice_sessions.voice_sessions, events.events]
CHECKS = [
    checks.every_raw_user_is_a_member,
    checks.no_overlapping_sessions,
    checks.session_durations_are_consistent,
    checks.no_open_session_older_than_the_cap,
]
ATTENDANCE_CHECKS = [checks.every_completed_event_has_attendance, checks.attendance_within_event_window]


def community(conn) -> None:
    """A small evening: 20 members in and out of three channels, a scrim that completes, heartbeats."""
    evs = []
    for u in range(1, 21):
        ch = 10 + u % 3
        evs += [Voice(u, "join", at(u), ch, username=f"user{u}")]
        evs += [Voice(u, "move", at(30 + u), 10, from_channel=ch)]
        if u % 4:
            evs += [Voice(u, "leave", at(100 + u), 10)]
    insert_voice(conn, evs)
    insert_heartbeats(conn, [at(m) for m in range(0, 200)])
    observe(conn, 90, at(0), "scheduled", channel=10, creator=1)
    observe(conn, 90, at(60), "active", channel=10, creator=1)
    observe(conn, 90, at(110), "completed", channel=10, creator=1)


def test_materialize_every_core_asset_and_its_checks_pass(warehouse_conn, warehouse_url):
    community(warehouse_conn)
    resources = {"warehouse": WarehouseResource(database_url=warehouse_url)}
    with DagsterInstance.ephemeral() as instance:
        observed = materialize([discord_voice_events], resources=resources, instance=instance)
        assert observed.success
        result = materialize([*CORE, *CHECKS], resources=resources, instance=instance)
        assert result.success
        evaluations = result.get_asset_check_evaluations()
        assert len(evaluations) == len(CHECKS) and all(e.passed for e in evaluations)
        mats = {
            m.asset_key: m.metadata
            for m in result.get_asset_materialization_events()
            for m in [m.materialization]
        }
        assert mats[AssetKey(["pwr_core", "voice_sessions"])]["mode"].value == "full"

        event_id = str(warehouse_conn.execute("SELECT event_id FROM pwr_core.events").fetchone()[0])
        instance.add_dynamic_partitions("events", [event_id])
        result = materialize(
            [event_attendance.event_attendance, *ATTENDANCE_CHECKS],
            resources=resources,
            instance=instance,
            partition_key=event_id,
        )
        assert result.success
        assert all(e.passed for e in result.get_asset_check_evaluations())
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_core.event_attendance").fetchone()[0] == 20


def test_blocking_check_fails_the_run_when_sessions_overlap(warehouse_conn, warehouse_url):
    community(warehouse_conn)
    resources = {"warehouse": WarehouseResource(database_url=warehouse_url)}
    with DagsterInstance.ephemeral() as instance:
        assert materialize([*CORE, *CHECKS], resources=resources, instance=instance).success
        warehouse_conn.execute(  # corrupt: a copy of a session shifted by one second
            """
            INSERT INTO pwr_core.voice_sessions (member_id, discord_guild_id, discord_channel_id, session_start_ts,
                session_end_ts, duration_seconds, is_completed, close_reason)
            SELECT member_id, discord_guild_id, discord_channel_id, session_start_ts + interval '1 second',
                   session_end_ts, duration_seconds - 1, TRUE, close_reason
            FROM pwr_core.voice_sessions WHERE is_completed LIMIT 1
            """
        )
        result = materialize(
            [checks.no_overlapping_sessions, voice_sessions.voice_sessions],
            resources=resources,
            instance=instance,
            raise_on_error=False,
            selection=[AssetKey(["pwr_core", "voice_sessions"])],
        )
        evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert evaluations["no_overlapping_sessions"] is False
        assert not result.success  # blocking


def test_raw_rows_committed_after_the_refresh_read_its_input_do_not_fail_its_checks(
    warehouse_conn, warehouse_url
):
    """The live run under a steady feed: the collector commits while the run goes on. A row that
    lands after members (or the sessionizer) read its input is the next run's, not a broken rule:
    a new member's first event, and an event past the cap of the sessions still open. Before, the
    blocking checks counted every raw row and failed the live run and both its retries (which run
    the check alone); ``bench live`` caught such a window. A row the run did read and left out
    still fails them."""
    community(warehouse_conn)
    resources = {"warehouse": WarehouseResource(database_url=warehouse_url)}
    with DagsterInstance.ephemeral() as instance:

        def run(selection=None):
            result = materialize(
                [*CORE, *CHECKS],
                resources=resources,
                instance=instance,
                selection=selection,
                raise_on_error=False,
            )
            return result.success, {e.check_name: e.passed for e in result.get_asset_check_evaluations()}

        assert run() == (True, dict.fromkeys((c.check_key.name for c in CHECKS), True))
        open_sessions = "SELECT count(*) FROM pwr_core.voice_sessions WHERE session_end_ts IS NULL"
        assert warehouse_conn.execute(open_sessions).fetchone()[0] == 5  # users 4, 8, … never left
        insert_voice(warehouse_conn, [Voice(99, "join", at(14 * 60), 12, username="late")])  # 14 h > the cap

        # the checks again, as a retry of the run runs them (alone): the new rows are not theirs
        assert run(AssetSelection.checks(*CHECKS)) == (
            True,
            dict.fromkeys((c.check_key.name for c in CHECKS), True),
        )

        # the next refresh reads them: 99 is a member, the open sessions end at the cap
        assert run()[0]
        assert (
            warehouse_conn.execute(
                "SELECT count(*) FROM pwr_core.members WHERE discord_user_id = 99"
            ).fetchone()[0]
            == 1
        )
        assert warehouse_conn.execute(open_sessions).fetchone()[0] == 1  # 99's own

        # a transform that read rows and left them out still fails its check (the watermarks moved
        # past a new member's event and an event past the cap of 99's open session, unread)
        insert_voice(warehouse_conn, [Voice(98, "join", at(29 * 60), 11, username="lost")])
        warehouse_conn.execute(
            "UPDATE pwr_core.transform_watermarks SET read_snapshot = pg_current_snapshot() "
            "WHERE transform_name IN ('members', 'voice_sessions')"
        )
        success, passed = run(AssetSelection.checks(*CHECKS))
        assert not success
        assert passed["every_raw_user_is_a_member"] is False
        assert passed["no_open_session_older_than_the_cap"] is False


def test_transform_read_snapshot_is_the_watermark_only_when_this_cluster_took_it(warehouse_conn):
    """What the two checks judge against: the stored snapshot when it is this cluster's, else the
    current one (never ran; another cluster's system identifier; an xmax ahead of this server's,
    as after a restore)."""

    def read() -> str:
        return warehouse_conn.execute("SELECT pwr_core.transform_read_snapshot('members')::text").fetchone()[
            0
        ]

    def current_xmax() -> int:
        return int(
            warehouse_conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()[0]
        )

    def xmax(snapshot: str) -> int:
        return int(snapshot.split(":")[1])

    before = current_xmax()
    assert xmax(read()) >= before  # never ran: now
    this_cluster = warehouse_conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0]
    warehouse_conn.execute(
        "INSERT INTO pwr_core.transform_watermarks (transform_name, read_snapshot, system_identifier) "
        "VALUES ('members', '3:3:', %s)",
        (this_cluster,),
    )
    assert read() == "3:3:"  # this cluster's: as stored
    warehouse_conn.execute("UPDATE pwr_core.transform_watermarks SET system_identifier = NULL")
    assert read() == "3:3:"  # stored before the column existed: taken as this cluster's
    warehouse_conn.execute(
        "UPDATE pwr_core.transform_watermarks SET system_identifier = %s", (this_cluster + 1,)
    )
    before = current_xmax()
    assert xmax(read()) >= before  # another cluster's: now
    ahead = current_xmax() + 1_000_000
    warehouse_conn.execute(
        "UPDATE pwr_core.transform_watermarks SET system_identifier = %s, read_snapshot = %s::pg_snapshot",
        (this_cluster, f"{ahead}:{ahead}:"),
    )
    before = current_xmax()
    assert before <= xmax(read()) < ahead  # from the future (a restore): now


@pytest.mark.timeout(900)
def test_dagster_cli_materializes_each_core_asset(warehouse_conn, warehouse_url, tmp_path):
    community(warehouse_conn)
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "PWR_DATABASE_URL": warehouse_url}
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")

    def cli(*args):
        done = subprocess.run(
            # the code location's default executor is in-process: one process per run, not per step
            [dagster, "asset", "materialize", "-m", "pwr_platform.definitions", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout + done.stderr

    out = cli("--select", "pwr_core/members,pwr_core/voice_sessions,pwr_core/events")
    assert "RUN_SUCCESS" in out
    assert "ASSET_CHECK_EVALUATION" in out
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_core.voice_sessions").fetchone()[0] > 20

    event_id = str(warehouse_conn.execute("SELECT event_id FROM pwr_core.events").fetchone()[0])
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        instance.add_dynamic_partitions("events", [event_id])
    out = cli("--select", "pwr_core/event_attendance", "--partition", event_id)
    assert "RUN_SUCCESS" in out
    assert warehouse_conn.execute("SELECT count(*) FROM pwr_core.event_attendance").fetchone()[0] == 20


def test_raw_observation_reports_newest_event_and_changes_version_only_on_new_rows(
    warehouse_conn, warehouse_url
):
    """The observation runs in every core refresh, so it uses index lookups only (no table scan)."""
    from dagster import DagsterInstance

    from pwr_platform.definitions import build_definitions

    key = AssetKey(["pwr_raw", "discord_voice_events"])
    job = build_definitions(WarehouseResource(database_url=warehouse_url)).resolve_job_def(
        "observe_raw_voice_events_job"
    )

    def observe_raw(instance):
        assert job.execute_in_process(instance=instance).success
        record = instance.fetch_observations(key, limit=1).records[0].asset_observation
        return record.tags["dagster/data_version"], record.metadata["newest_event_ts"].value

    with DagsterInstance.ephemeral() as instance:
        assert observe_raw(instance)[1] == "none"
        insert_voice(warehouse_conn, [Voice(1, "join", at(5), 10), Voice(2, "join", at(9), 11)])
        version, newest = observe_raw(instance)
        assert newest == at(9).isoformat()
        assert observe_raw(instance) == (version, newest)  # nothing new: same version
        insert_voice(warehouse_conn, [Voice(3, "join", at(2), 10)])  # late, older event
        later_version, later_newest = observe_raw(instance)
        assert later_version != version and later_newest == newest
        # a second guild's newer event is found too
        warehouse_conn.execute(
            "INSERT INTO pwr_raw.discord_voice_events (discord_user_id, discord_guild_id, discord_channel_id,"
            " event_type, event_ts, raw_payload) VALUES (4, 1, 12, 'join', %s, '{}')",
            (at(30),),
        )
        assert observe_raw(instance)[1] == at(30).isoformat()
