"""A Member or Player filter value names one member: two members with the same display name stay two.

Discord display names are not unique. A filter on them offers one "Alex" for two members and,
chosen, shows both members' numbers added together, as does a chart with a series per display
name. The bundle's person filters therefore act on ``member_label`` / ``player``: the display
name and the member's unique Discord username (``pwr_agg.member_label``, as the member profile
names them). Generic over the bundle: for every select filter that picks a person, every dataset
it acts on (the dataset its values come from and the dataset of every chart in its scope) is run
on a real warehouse where two members share a display name, and each value must name one member.
"""

from __future__ import annotations

import psycopg
import pytest

from pwr_platform.warehouse.sql_runner import run_script, sql_params
from pwr_platform_tests.agg_scenario import insert_member
from pwr_platform_tests.superset_bundle import Dashboard, NativeFilter, dashboards, dataset_source, datasets

pytestmark = pytest.mark.warehouse

# filter column -> the dataset column that identifies the person behind a value
PERSON_FILTERS = {"member_label": "member_id", "player": "account_id"}
# two members called Alex (ids 1 and 2, Dota accounts 1001 and 1002) and one called Sam
ALEXES = {"member_id": (1, 2), "account_id": (1001, 1002)}


def _person_filters() -> list[tuple[Dashboard, NativeFilter]]:
    return [(d, f) for d in dashboards() for f in d.native_filters() if f.column in PERSON_FILTERS]


def _datasets_of(nf: NativeFilter) -> list[dict]:
    """The dataset the filter's values come from, then those of the charts in its scope."""
    found = {t["datasetUuid"]: datasets()[t["datasetUuid"]] for t in nf.config["targets"]}
    for chart in nf.charts_in_scope:
        found.setdefault(chart.dataset["uuid"], chart.dataset)
    return list(found.values())


def _columns(dataset: dict) -> set[str]:
    return {c["column_name"] for c in dataset["columns"]}


def _two_members_called_alex(conn: psycopg.Connection) -> None:
    insert_member(conn, 1, 5001, "Alex", "2025-01-06T00:00Z")
    insert_member(conn, 2, 5002, "Alex", "2025-01-06T00:00Z")
    insert_member(conn, 3, 5003, "Sam", "2025-01-06T00:00Z")
    conn.execute("UPDATE pwr_core.members SET username = 'user' || discord_user_id")
    conn.execute(
        "INSERT INTO pwr_agg.member_voice_daily VALUES"
        " ('2025-03-03', 1, 1, 3600), ('2025-03-04', 2, 2, 1800), ('2025-03-04', 3, 1, 600),"
        " ('2025-02-03', 1, 1, 7200), ('2025-02-04', 2, 1, 900)"
    )
    conn.execute(
        "INSERT INTO pwr_agg.member_engagement_weekly VALUES"
        " ('2025-03-03', 1, 3600, 0, 0), ('2025-03-03', 2, 1800, 0, 0), ('2025-03-03', 3, 600, 0, 0),"
        " ('2025-02-03', 1, 7200, 0, 0), ('2025-02-03', 2, 900, 0, 0)"
    )
    with conn.transaction():
        run_script(conn, "member_trend", sql_params())
    conn.execute(
        "INSERT INTO pwr_dota.matches (match_id, start_ts, duration_seconds, radiant_win, winning_side)"
        " VALUES (7, '2025-03-05T19:00Z', 2400, true, 'radiant')"
    )
    conn.execute(
        "INSERT INTO pwr_dota.match_players (match_id, player_slot, account_id, side, is_win, kills, deaths, assists)"
        " VALUES (7, 0, 1001, 'radiant', true, 5, 1, 3), (7, 128, 1002, 'dire', false, 2, 4, 1)"
    )
    conn.execute(
        "INSERT INTO pwr_dota.player_links (account_id, discord_user_id, source)"
        " VALUES (1001, 5001, 'test'), (1002, 5002, 'test')"
    )


def test_the_bundle_has_person_filters_and_none_on_a_display_name() -> None:
    names = {(d.slug, f.name) for d, f in _person_filters()}
    assert {("voice-activity-overview", "Member"), ("member-engagement", "Member")} <= names, names
    assert ("dota-league-insights", "Player") in names, names
    on_names = [
        (d.slug, f.name) for d in dashboards() for f in d.native_filters() if f.column == "display_name"
    ]
    assert on_names == [], f"filters on a display name (not unique): {on_names}"


def test_every_person_filter_value_names_one_member_in_every_dataset_it_acts_on(warehouse_conn) -> None:
    _two_members_called_alex(warehouse_conn)
    checked = []
    for dashboard, nf in _person_filters():
        id_column = PERSON_FILTERS[nf.column]
        for dataset in _datasets_of(nf):
            name = f"{dashboard.slug} / {nf.name} / {dataset['table_name']}"
            assert nf.column in _columns(dataset), f"{name}: the filter's column is missing"
            if id_column not in _columns(dataset):
                continue  # a dataset of per-player totals: no id to compare (its SQL joins by id)
            source = dataset_source(dataset)
            shared = warehouse_conn.execute(
                f"SELECT {nf.column}, array_agg(DISTINCT {id_column}) FROM {source} AS t"  # noqa: S608 - bundle SQL
                f" GROUP BY 1 HAVING count(DISTINCT {id_column}) > 1"
            ).fetchall()
            assert shared == [], f"{name}: one filter value, several members: {shared}"
            alexes = warehouse_conn.execute(
                f"SELECT count(DISTINCT {id_column}), count(DISTINCT {nf.column}) FROM {source} AS t"  # noqa: S608
                f" WHERE {id_column} = ANY(%s)",
                (list(ALEXES[id_column]),),
            ).fetchone()
            if alexes == (0, 0):
                continue  # no rows of the test's members here (events, attendance): checked above only
            assert alexes == (2, 2), f"{name}: both members called Alex, under two values: {alexes}"
            checked.append(name)
    print("\n" + "\n".join(checked))
    # the member filters' own value lists and every member chart's dataset, and the Dota games
    tables = {c.rsplit(" / ", 1)[1] for c in checked}
    assert {
        "members",
        "member_voice_daily",
        "member_engagement_weekly",
        "member_trend",
        "dota_player_games",
    } <= tables
