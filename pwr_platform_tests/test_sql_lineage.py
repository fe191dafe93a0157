"""The graph tells the truth: every asset's deps are exactly the tables its SQL reads.

Each table asset names the SQL files it runs (``pwr/sql_files``, from ``table_metadata(sql=…)``)
and the tables it writes besides its own (``pwr/also_writes``). sqlglot parses every file under
``pwr_platform/sql`` (``defs/lineage.py``); a file that reads a table its asset does not depend
on, writes a table its asset does not declare, or an asset that declares a dep its SQL never
reads, fails here — and the last tests show the rule catching a deliberately broken copy.
"""

from __future__ import annotations

from dagster import AssetKey

from pwr_platform.definitions import build_definitions
from pwr_platform.defs.keys import MEMBER_VOICE_DAILY, MEMBERS, VOICE_SESSIONS
from pwr_platform.defs.lineage import OTHER_TABLES, asset_of_table, tables_in_sql
from pwr_platform.defs.table_metadata import ALSO_WRITES_KEY, SQL_FILES_KEY
from pwr_platform.warehouse.sql_runner import SQL_DIR

GRAPH = build_definitions().resolve_asset_graph()

# SQL files no asset runs: monitoring queries of checks and sensors, and the shared stale-day
# marks. They must still parse and read only tables that are in the graph.
MONITORING = {
    "core_checks.sql": "asset checks of the core tables",
    "collector_health.sql": "collector_is_heartbeating / core_refresh_keeps_up checks",
    "core_sensors.sql": "core_refresh_sensor and event_attendance_sensor",
    "stale_aggregate_days.sql": "the aggregates' stale-day marks (bookkeeping, run by every window)",
    "bulk_load.sql": "catalog reads of the aggregates' whole-table rebuilds (windows.py)",
    "bot_commands.sql": "the Discord bot's reads for /event, /stats and /leaderboard (not an asset)",
    "dota_checks.sql": "asset checks of the Dota match tables",
}


def sql_files(node) -> list[str]:
    text = node.metadata.get(SQL_FILES_KEY)
    return [name.strip() for name in text.split(",")] if text else []


def own_tables(node) -> set[str]:
    also = node.metadata.get(ALSO_WRITES_KEY)
    return {node.metadata["dagster/table_name"], *([t.strip() for t in also.split(",")] if also else [])}


def lineage_problems(key: AssetKey, texts: dict[str, str], deps: set[AssetKey], own: set[str]) -> list[str]:
    """What is wrong between an asset's declared deps / tables and the SQL it runs (empty = true)."""
    problems = []
    read_assets: set[AssetKey] = set()
    for name, text in texts.items():
        found = tables_in_sql(text)
        for table in sorted(found.writes - own):
            problems.append(
                f"{key.to_user_string()}: sql/{name} writes {table}, which the asset does not declare"
            )
        for table in found.reads - own:
            read_assets.add(asset_of_table(table))
    for dep in sorted(read_assets - deps, key=str):
        problems.append(f"{key.to_user_string()}: its SQL reads {dep.to_user_string()}, not among its deps")
    for dep in sorted(deps - read_assets, key=str):
        problems.append(
            f"{key.to_user_string()}: depends on {dep.to_user_string()}, which its SQL never reads"
        )
    return problems


def asset_sql(key: AssetKey) -> tuple[dict[str, str], set[AssetKey], set[str]]:
    node = GRAPH.get(key)
    texts = {name: (SQL_DIR / name).read_text() for name in sql_files(node)}
    return texts, set(node.parent_keys), own_tables(node)


def table_assets() -> list[AssetKey]:
    return [k for k in GRAPH.materializable_asset_keys if sql_files(GRAPH.get(k))]


def test_every_asset_depends_on_exactly_the_tables_its_sql_reads() -> None:
    assert len(table_assets()) == 20  # 5 core + 10 aggregates + the weekly digest + 4 Dota tables
    problems = [p for key in table_assets() for p in lineage_problems(key, *asset_sql(key))]
    assert problems == []


def test_every_sql_file_belongs_to_an_asset_or_a_check_and_reads_only_graph_tables() -> None:
    claimed = {name for key in table_assets() for name in sql_files(GRAPH.get(key))}
    graph_keys = GRAPH.get_all_asset_keys()
    for path in sorted(SQL_DIR.rglob("*.sql")):
        name = str(path.relative_to(SQL_DIR))
        found = tables_in_sql(path.read_text())
        outside = {t for t in found.reads if asset_of_table(t) not in graph_keys}
        assert not outside, f"sql/{name} reads tables no asset stands for: {sorted(outside)}"
        if name.startswith("checks/"):
            # an aggregate check reads its asset and what the asset is made of, nothing else
            asset = next(
                k
                for k in graph_keys
                if k.path[0] == "pwr_agg" and name.removeprefix("checks/").startswith(k.path[-1] + "_")
            )
            allowed = {asset} | GRAPH.get(asset).parent_keys | {MEMBERS, VOICE_SESSIONS}
            assert {asset_of_table(t) for t in found.reads} <= allowed, name
            assert not found.writes, name
        else:
            assert name in claimed or name in MONITORING, f"sql/{name} is run by no asset and not listed"


def test_tables_written_besides_an_assets_own_are_declared_on_it() -> None:
    for table, owner in OTHER_TABLES.items():
        assert table in own_tables(GRAPH.get(owner)), (table, owner)


def test_the_rule_catches_a_file_reading_an_undeclared_table() -> None:
    texts, deps, own = asset_sql(MEMBER_VOICE_DAILY)
    broken = texts["member_voice_daily.sql"].replace(
        "FROM pwr_core.voice_sessions",
        "FROM (SELECT v.* FROM pwr_core.voice_sessions v JOIN pwr_core.members USING (member_id))",
        1,
    )
    assert broken != texts["member_voice_daily.sql"]
    problems = lineage_problems(MEMBER_VOICE_DAILY, {**texts, "member_voice_daily.sql": broken}, deps, own)
    assert problems == ["pwr_agg/member_voice_daily: its SQL reads pwr_core/members, not among its deps"]


def test_the_rule_catches_an_undeclared_write_and_a_dep_never_read() -> None:
    texts, deps, own = asset_sql(MEMBER_VOICE_DAILY)
    extra = "DELETE FROM pwr_agg.member_trend WHERE NULL;"
    problems = lineage_problems(
        MEMBER_VOICE_DAILY, {**texts, "extra.sql": extra}, deps | {AssetKey(["pwr_core", "events"])}, own
    )
    assert problems == [
        "pwr_agg/member_voice_daily: sql/extra.sql writes pwr_agg.member_trend, which the asset does not declare",
        "pwr_agg/member_voice_daily: depends on pwr_core/events, which its SQL never reads",
    ]


def test_reading_new_raw_rows_through_a_since_function_is_a_read_of_the_raw_table() -> None:
    """``pwr_raw.<table>_since(snapshot)`` in FROM (how the incremental transforms read new rows)
    and as a call elsewhere both count as reads of ``<table>``; a plain function does not."""
    in_from = (
        "WITH n AS (SELECT * FROM pwr_raw.discord_voice_events_since(%(prev)s::pg_snapshot)) SELECT * FROM n"
    )
    assert tables_in_sql(in_from).reads == {"pwr_raw.discord_voice_events"}
    as_call = "SELECT (SELECT count(*) FROM pwr_raw.manual_events_since(NULL)) AS n"
    assert tables_in_sql(as_call).reads == {"pwr_raw.manual_events"}
    assert tables_in_sql("SELECT * FROM pwr_raw.discord_voice_events_until(NULL)").reads == set()
