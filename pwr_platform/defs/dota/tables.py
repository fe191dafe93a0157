"""The Dota tables built from the raw documents, each by one SQL file (``sql/dota_<table>.sql``).

``matches`` and ``match_players`` are incremental: a run parses only the matches not in the
table yet (a match never changes once played), so a refresh that brought ten new matches costs
ten matches of work whatever the league's size. ``heroes`` and ``leagues`` are upserts of a few
hundred rows.
"""

from collections.abc import Sequence

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, asset

from pwr_platform.defs.keys import (
    DOTA_HEROES,
    DOTA_LEAGUES,
    DOTA_MATCH_PLAYERS,
    DOTA_MATCHES,
    DOTA_RAW_MATCHES,
    DOTA_RAW_REFERENCES,
)
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import materialized_table_metadata, table_metadata
from pwr_platform.warehouse.sql_runner import run_script, sql_params


def dota_table(
    key: AssetKey, deps: Sequence[AssetKey], description: str, columns: list[tuple[str, str]]
) -> AssetsDefinition:
    table = ".".join(key.path)
    sql = f"dota_{key.path[-1]}"

    @asset(
        key=key,
        name=None,
        deps=list(deps),
        description=f"{description} SQL: sql/{sql}.sql.",
        metadata=table_metadata(table, columns, sql=[sql]),
    )
    def _refresh(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        with warehouse.connect() as conn:
            before = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            summary = run_script(conn, sql, sql_params())
            standard = materialized_table_metadata(conn, table, preview_order="1")
        total = int(next(iter(summary[0].values()))) if summary else 0
        context.log.info(f"{table}: {total - before} new rows, {total} in all")
        return MaterializeResult(metadata={**standard, "new_rows": total - before})

    return _refresh


heroes = dota_table(
    DOTA_HEROES,
    [DOTA_RAW_REFERENCES],
    "Dota 2 heroes by id, from the newest /heroes document.",
    [("hero_id", "integer"), ("name", "text"), ("localized_name", "text")],
)

leagues = dota_table(
    DOTA_LEAGUES,
    [DOTA_RAW_REFERENCES, DOTA_RAW_MATCHES],
    "Leagues of the stored matches, named by their /leagues/{id} document.",
    [("league_id", "bigint"), ("name", "text")],
)

matches = dota_table(
    DOTA_MATCHES,
    [DOTA_RAW_MATCHES],
    "One row per league match (start, duration, winner, teams); incremental: only new matches are parsed.",
    [
        ("match_id", "bigint"),
        ("league_id", "bigint"),
        ("start_ts", "timestamptz"),
        ("duration_seconds", "integer"),
        ("radiant_win", "boolean"),
        ("winning_side", "text"),
        ("radiant_team", "text"),
        ("dire_team", "text"),
    ],
)

match_players = dota_table(
    DOTA_MATCH_PLAYERS,
    [DOTA_RAW_MATCHES, DOTA_MATCHES],
    "One row per player per match (hero, side, result, K/D/A, GPM, XPM, last hits, net worth); "
    "incremental: only matches whose players are not stored yet.",
    [
        ("match_id", "bigint"),
        ("player_slot", "smallint"),
        ("account_id", "bigint"),
        ("hero_id", "integer"),
        ("side", "text"),
        ("is_win", "boolean"),
        ("kills", "integer"),
        ("deaths", "integer"),
        ("assists", "integer"),
        ("gold_per_min", "integer"),
        ("xp_per_min", "integer"),
        ("last_hits", "integer"),
        ("net_worth", "integer"),
    ],
)
