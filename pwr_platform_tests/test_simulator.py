"""The simulator: same seed and end → identical rows; a realistic shape, checked in SQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest

from pwr_platform.ingest.simulator import Simulation, SimulationConfig
from pwr_platform.ingest.writer import Writer

END = datetime(2026, 11, 1, tzinfo=UTC)
TZ = "Europe/Berlin"


def rows(sim: Simulation) -> list[tuple]:
    return [(r.KIND, *r.row()) for r in sim.records()]


def write(sim: Simulation, url: str) -> Writer:
    writer = Writer(url)
    writer.add_many(sim.records())
    writer.flush()
    return writer


def test_same_seed_and_end_give_identical_records() -> None:
    config = SimulationConfig(members=60, days=30, seed=5, end=END)
    first = rows(Simulation(config))
    assert first == rows(Simulation(config))
    assert first != rows(Simulation(SimulationConfig(members=60, days=30, seed=6, end=END)))
    shifted = rows(
        Simulation(SimulationConfig(members=60, days=30, seed=5, end=datetime(2026, 11, 2, tzinfo=UTC)))
    )
    assert first != shifted


def test_two_guilds_simulated_with_one_seed_share_no_channel_or_event_id() -> None:
    """Discord's channel and event ids are global: two communities simulated into one warehouse
    with the same seed must not collide (a shared event id made materializing events fail)."""
    one, other = (
        Simulation(SimulationConfig(members=20, days=30, seed=5, end=END, guild_id=guild))
        for guild in (SimulationConfig(members=1, days=1).guild_id, 922_222_222_222_222_222)
    )
    assert one.events and other.events
    assert not {e.event_id for e in one.events} & {e.event_id for e in other.events}
    assert not set(one.channel_ids.values()) & set(other.channel_ids.values())


def test_rows_in_postgres_are_the_records_and_a_rerun_adds_nothing(warehouse_url: str) -> None:
    config = SimulationConfig(members=40, days=20, seed=3, end=END)
    write(Simulation(config), warehouse_url)
    expected = sorted(
        (r.guild_id, r.user_id, r.channel_id, r.event_type, r.event_ts, r.payload)
        for r in Simulation(config).records()
        if r.KIND == "voice"
    )
    with psycopg.connect(warehouse_url) as conn:
        stored = conn.execute(
            "SELECT discord_guild_id, discord_user_id, discord_channel_id, event_type, event_ts, raw_payload::text "
            "FROM pwr_raw.discord_voice_events"
        ).fetchall()
    assert len(stored) == len(expected)
    normalise = [(*row[:5], json.loads(row[5])) for row in stored]
    assert sorted(normalise, key=lambda r: r[:5]) == sorted(
        [(*row[:5], json.loads(row[5])) for row in expected], key=lambda r: r[:5]
    )
    again = write(Simulation(config), warehouse_url)
    assert sum(again.stats.inserted.values()) == 0


@pytest.fixture(scope="module")
def community(pg_server_url: str, template_db: str):
    """One mid-size simulated community (300 members, 90 days, Berlin time) shared by the shape tests."""
    import uuid

    from pwr_platform_tests.conftest import create_database, drop_database

    name = f"pwr_test_sim_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_server_url, name, template=template_db)
    sim = Simulation(SimulationConfig(members=300, days=90, seed=11, end=END, timezone=TZ))
    write(sim, url)
    with psycopg.connect(url, autocommit=True) as conn:
        yield sim, conn
    drop_database(pg_server_url, name)


def one(conn, sql: str, *params):
    return conn.execute(sql, params).fetchone()


def test_evening_peak_in_reporting_time_zone(community) -> None:
    _, conn = community
    by_hour = dict(
        conn.execute(
            "SELECT extract(hour FROM event_ts AT TIME ZONE %s)::int, count(*) FROM pwr_raw.discord_voice_events "
            "WHERE event_type = 'join' GROUP BY 1",
            (TZ,),
        ).fetchall()
    )
    total = sum(by_hour.values())
    peak = max(by_hour, key=by_hour.get)
    evening = sum(by_hour.get(h, 0) for h in range(18, 24))
    assert 18 <= peak <= 23, by_hour
    assert evening / total > 0.45, by_hour
    assert sum(by_hour.get(h, 0) for h in range(3, 7)) / total < 0.03


def test_weekends_are_busier(community) -> None:
    _, conn = community
    weekend, weekday = one(
        conn,
        "SELECT count(*) FILTER (WHERE isodow >= 6) / 2.0::float, count(*) FILTER (WHERE isodow < 6) / 5.0::float FROM ("
        " SELECT extract(isodow FROM event_ts AT TIME ZONE %s) AS isodow FROM pwr_raw.discord_voice_events"
        " WHERE event_type = 'join') d",
        TZ,
    )
    assert weekend > 1.15 * weekday


def test_heavy_tailed_activity(community) -> None:
    _, conn = community
    top_share, median, maximum = one(
        conn,
        "WITH per_user AS (SELECT discord_user_id, count(*) AS n FROM pwr_raw.discord_voice_events GROUP BY 1),"
        " ranked AS (SELECT n, ntile(10) OVER (ORDER BY n DESC) AS decile FROM per_user)"
        " SELECT sum(n) FILTER (WHERE decile = 1)::float / sum(n),"
        "        percentile_cont(0.5) WITHIN GROUP (ORDER BY n), max(n) FROM ranked",
    )
    assert top_share > 0.35
    assert maximum > 8 * median


def test_growth_and_churn(community) -> None:
    sim, conn = community
    joined_during, left = one(
        conn,
        "SELECT count(*) FILTER (WHERE event_type = 'join' AND joined_at >= %s),"
        "       count(*) FILTER (WHERE event_type = 'leave') FROM pwr_raw.discord_member_events",
        sim.start,
    )
    assert joined_during > 100 and 20 < left < 120
    # Nobody who left the guild shows up in voice afterwards.
    assert (
        one(
            conn,
            "SELECT count(*) FROM pwr_raw.discord_voice_events v JOIN pwr_raw.discord_member_events m"
            " ON m.discord_user_id = v.discord_user_id AND m.event_type = 'leave' WHERE v.event_ts > m.event_ts",
        )[0]
        == 0
    )
    # Activity declines before churn: their last month before leaving is quieter than the one before.
    late, early = one(
        conn,
        "SELECT count(*) FILTER (WHERE v.event_ts > m.event_ts - interval '14 days'),"
        "       count(*) FILTER (WHERE v.event_ts <= m.event_ts - interval '28 days'"
        "                          AND v.event_ts > m.event_ts - interval '42 days')"
        " FROM pwr_raw.discord_voice_events v JOIN pwr_raw.discord_member_events m"
        " ON m.discord_user_id = v.discord_user_id AND m.event_type = 'leave'",
    )
    assert late < early


def test_scheduled_events_have_transitions_channels_and_late_arrivals(community) -> None:
    sim, conn = community
    types = {r[0] for r in conn.execute("SELECT DISTINCT event_type FROM pwr_raw.discord_scheduled_events")}
    assert types == {"scrim", "inhouse", "meeting"}
    statuses = dict(
        conn.execute(
            "SELECT status, count(DISTINCT discord_event_id) FROM pwr_raw.discord_scheduled_events GROUP BY 1"
        )
    )
    assert statuses["completed"] > 20 and statuses.get("cancelled", 0) >= 1
    assert statuses["scheduled"] == len(sim.events)
    # first 'active' precedes first 'completed' for every event, and each event has its channel
    assert (
        one(
            conn,
            "SELECT count(*) FROM (SELECT discord_event_id,"
            " min(observed_ts) FILTER (WHERE status = 'active') AS a,"
            " min(observed_ts) FILTER (WHERE status = 'completed') AS c"
            " FROM pwr_raw.discord_scheduled_events GROUP BY 1) e WHERE a >= c",
        )[0]
        == 0
    )
    assert (
        one(conn, "SELECT count(*) FROM pwr_raw.discord_scheduled_events WHERE discord_channel_id IS NULL")[0]
        == 0
    )
    on_time, late = one(
        conn,
        "WITH ev AS (SELECT discord_event_id, discord_channel_id, min(scheduled_start_ts) AS s,"
        "  min(observed_ts) FILTER (WHERE status = 'active') AS a,"
        "  min(observed_ts) FILTER (WHERE status = 'completed') AS c"
        "  FROM pwr_raw.discord_scheduled_events GROUP BY 1, 2)"
        " SELECT count(*) FILTER (WHERE v.event_ts <= ev.s + interval '10 minutes'),"
        "        count(*) FILTER (WHERE v.event_ts > ev.s + interval '10 minutes')"
        " FROM ev JOIN pwr_raw.discord_voice_events v ON v.discord_channel_id = ev.discord_channel_id"
        "  AND v.event_type IN ('join', 'move') AND v.event_ts BETWEEN ev.s - interval '30 minutes' AND ev.c",
    )
    assert on_time > 100 and late > 20


def test_joins_spread_through_the_period(community) -> None:
    """New members keep arriving: every third of the period has its share of the joins in it."""
    sim, conn = community
    thirds = conn.execute(
        "SELECT width_bucket(extract(epoch FROM joined_at), extract(epoch FROM %s::timestamptz),"
        "                    extract(epoch FROM %s::timestamptz), 3) AS third, count(*)"
        " FROM pwr_raw.discord_member_events WHERE event_type = 'join' AND joined_at >= %s GROUP BY 1 ORDER BY 1",
        (sim.start, sim.end, sim.start),
    ).fetchall()
    counts = dict(thirds)
    assert set(counts) == {1, 2, 3}, thirds
    total = sum(counts.values())
    assert all(n > 0.15 * total for n in counts.values()), thirds
    members = one(conn, "SELECT count(DISTINCT discord_user_id) FROM pwr_raw.discord_member_events")[0]
    assert 0.4 * members < total < 0.8 * members  # and a core of members who were there before


def test_some_members_churn_and_leave_after_joining(community) -> None:
    sim, conn = community
    members, leavers, bad = one(
        conn,
        "SELECT count(DISTINCT discord_user_id),"
        "       count(DISTINCT discord_user_id) FILTER (WHERE event_type = 'leave'),"
        "       count(*) FILTER (WHERE event_type = 'leave' AND event_ts <= joined_at)"
        " FROM pwr_raw.discord_member_events",
    )
    assert 0.08 * members < leavers < 0.35 * members
    assert bad == 0
    # leavers are spread over the period too, not all at its end
    first_half = one(
        conn,
        "SELECT count(*) FROM pwr_raw.discord_member_events WHERE event_type = 'leave' AND event_ts < %s",
        sim.start + (sim.end - sim.start) / 2,
    )[0]
    assert 0 < first_half < leavers


def test_first_voice_activity_is_not_before_joining(community) -> None:
    _, conn = community
    early, with_voice = one(
        conn,
        "WITH joined AS (SELECT discord_user_id, min(joined_at) AS joined_at FROM pwr_raw.discord_member_events"
        "  GROUP BY 1),"
        " first_voice AS (SELECT discord_user_id, min(event_ts) AS first_ts FROM pwr_raw.discord_voice_events"
        "  GROUP BY 1)"
        " SELECT count(*) FILTER (WHERE f.first_ts < j.joined_at), count(*)"
        " FROM first_voice f LEFT JOIN joined j USING (discord_user_id)",
    )
    assert with_voice > 200
    assert early == 0
    # and nobody is in voice without a member record (a join date) to go with it
    assert (
        one(
            conn,
            "SELECT count(*) FROM (SELECT DISTINCT discord_user_id FROM pwr_raw.discord_voice_events) v"
            " WHERE NOT EXISTS (SELECT 1 FROM pwr_raw.discord_member_events m"
            "                   WHERE m.discord_user_id = v.discord_user_id)",
        )[0]
        == 0
    )


def test_scheduled_events_carry_interested_counts(community) -> None:
    """Every observation carries Discord's user_count; it grows from creation to the start, and
    across events it tracks who actually came (same order of magnitude, more for bigger events)."""
    sim, conn = community
    missing = one(
        conn,
        "SELECT count(*) FROM pwr_raw.discord_scheduled_events"
        " WHERE NOT (raw_payload ? 'user_count') OR (raw_payload->>'user_count')::int < 0",
    )[0]
    assert missing == 0
    shrinking = one(
        conn,
        "SELECT count(*) FROM (SELECT discord_event_id,"
        "  max((raw_payload->>'user_count')::int) FILTER (WHERE status = 'scheduled') AS early,"
        "  max((raw_payload->>'user_count')::int) FILTER (WHERE status IN ('active', 'completed')) AS final"
        "  FROM pwr_raw.discord_scheduled_events GROUP BY 1) e WHERE final < early",
    )[0]
    assert shrinking == 0
    per_event = conn.execute(
        "WITH ev AS (SELECT discord_event_id, discord_channel_id,"
        "  max((raw_payload->>'user_count')::int) AS interested,"
        "  min(observed_ts) FILTER (WHERE status = 'active') AS a,"
        "  min(observed_ts) FILTER (WHERE status = 'completed') AS c"
        "  FROM pwr_raw.discord_scheduled_events GROUP BY 1, 2)"
        " SELECT ev.discord_event_id, ev.interested, count(DISTINCT v.discord_user_id)"
        " FROM ev LEFT JOIN pwr_raw.discord_voice_events v ON v.discord_channel_id = ev.discord_channel_id"
        "  AND v.event_type IN ('join', 'move') AND v.event_ts BETWEEN ev.a - interval '30 minutes' AND ev.c"
        " WHERE ev.c IS NOT NULL GROUP BY 1, 2",
    ).fetchall()
    assert len(per_event) > 20
    interested = sum(i for _, i, _ in per_event)
    came = sum(n for _, _, n in per_event)
    assert 0.9 * came < interested < 2.5 * came, (interested, came)
    assert len({i for _, i, _ in per_event}) > 5  # not one constant
    # the event's creator is in the guild when creating it
    hosts_outside = one(
        conn,
        "SELECT count(*) FROM (SELECT discord_event_id, min(observed_ts) AS created,"
        "  min(creator_discord_user_id) AS creator FROM pwr_raw.discord_scheduled_events GROUP BY 1) e"
        " WHERE NOT EXISTS (SELECT 1 FROM pwr_raw.discord_member_events m WHERE m.discord_user_id = e.creator"
        "                   AND m.event_type = 'join' AND m.joined_at <= e.created)",
    )[0]
    assert hosts_outside == 0


def test_collector_gaps_heartbeats_and_snapshots(community) -> None:
    sim, conn = community
    gaps = conn.execute(
        "SELECT prev, heartbeat_ts FROM (SELECT heartbeat_ts, lag(heartbeat_ts) OVER (ORDER BY heartbeat_ts) AS prev"
        " FROM pwr_raw.collector_heartbeats) h WHERE heartbeat_ts - prev > interval '1 minute'"
    ).fetchall()
    assert len(gaps) == len(sim.gaps) >= 3
    for prev, back in gaps:
        # nothing is recorded while the collector is down (the snapshot joins come after it)
        inside = one(
            conn,
            "SELECT count(*) FROM pwr_raw.discord_voice_events WHERE event_ts > %s AND event_ts < %s",
            prev + (back - prev) / 2 - (back - prev) / 3,
            prev + (back - prev) / 2 + (back - prev) / 3,
        )[0]
        assert inside == 0
    snapshots = one(
        conn, "SELECT count(*) FROM pwr_raw.discord_voice_events WHERE raw_payload->>'source' = 'snapshot'"
    )[0]
    assert snapshots >= 1
    runs = one(conn, "SELECT count(DISTINCT collector_run_id) FROM pwr_raw.collector_heartbeats")[0]
    assert runs == len(sim.gaps) + 1


def test_moves_afk_and_quarantine(community) -> None:
    sim, conn = community
    moves, afk = one(
        conn,
        "SELECT count(*) FILTER (WHERE event_type = 'move'), count(*) FILTER (WHERE raw_payload ? 'afk')"
        " FROM pwr_raw.discord_voice_events",
    )
    assert moves > 500 and afk > 20
    # every voice event names its channel(s) as the collector does, one name per channel id
    unnamed, names_per_channel = one(
        conn,
        "SELECT count(*) FILTER (WHERE NOT raw_payload ? 'channel_name' OR (event_type = 'move'"
        " AND NOT raw_payload ? 'from_channel_name')), (SELECT max(n) FROM (SELECT count(DISTINCT"
        " raw_payload ->> 'channel_name') AS n FROM pwr_raw.discord_voice_events GROUP BY discord_channel_id) x)"
        " FROM pwr_raw.discord_voice_events",
    )
    assert (unnamed, names_per_channel) == (0, 1)
    assert {sim.channel_names[sim.afk_channel_id]} == {
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT raw_payload ->> 'channel_name' FROM pwr_raw.discord_voice_events WHERE raw_payload ? 'afk'"
        )
    }
    reasons = [
        r[0]
        for r in conn.execute("SELECT reason FROM pwr_raw.rejected_voice_events WHERE source = 'simulator'")
    ]
    assert len(reasons) >= 3


def test_pwr_simulate_command_and_if_empty(warehouse_url: str, tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from pwr_platform.cli import main
    from pwr_platform.settings import get_settings

    monkeypatch.setenv("PWR_DATABASE_URL", warehouse_url)
    monkeypatch.setenv("PWR_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        args = ["simulate", "--members", "20", "--days", "10", "--seed", "4", "--end", "2026-11-01"]
        first = CliRunner().invoke(main, args, catch_exceptions=False)
        assert first.exit_code == 0, first.output
        expected = sum(
            1 for r in Simulation(SimulationConfig(members=20, days=10, seed=4, end=END)).records()
        )
        with psycopg.connect(warehouse_url) as conn:
            stored = sum(
                conn.execute(f"SELECT count(*) FROM pwr_raw.{t}").fetchone()[0]
                for t in (
                    "discord_voice_events",
                    "discord_member_events",
                    "discord_scheduled_events",
                    "collector_heartbeats",
                    "rejected_voice_events",
                )
            )
        assert stored == expected
        second = CliRunner().invoke(main, [*args, "--if-empty"], catch_exceptions=False)
        assert second.exit_code == 0 and "not simulating" in second.output
    finally:
        get_settings.cache_clear()
