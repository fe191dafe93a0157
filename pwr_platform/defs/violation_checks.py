"""Asset checks that count violations of one rule with one named SQL statement.

The core and Dota checks are the same thing said over different SQL files: a statement counts
the rows that break a rule, and the check passes at zero with the count and the rule in its
metadata. One factory keeps them alike (blocking is the caller's choice)."""

from dagster import AssetCheckResult, asset_check

from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.warehouse.sql_runner import sql_params, sql_statements


def count_violations(warehouse: WarehouseResource, sql_file: str, statement: str) -> int:
    with warehouse.connect() as conn:
        conn.execute("SET LOCAL jit = off")
        return conn.execute(sql_statements(sql_file)[statement], sql_params()).fetchone()[0]


def zero_violations(
    name: str, asset, statement: str, rule: str, description: str, *, sql_file: str, blocking: bool
):
    """A check on ``asset`` that passes when ``sql_file``'s ``statement`` counts no violations."""

    @asset_check(name=name, asset=asset, blocking=blocking, description=description)
    def _check(warehouse: WarehouseResource) -> AssetCheckResult:
        count = count_violations(warehouse, sql_file, statement)
        return AssetCheckResult(passed=count == 0, metadata={"violations": count, "rule": rule})

    return _check
