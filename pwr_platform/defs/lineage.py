"""Which tables a piece of SQL reads and writes, and which asset each warehouse table belongs to.

One answer for the whole graph: the SQL-lineage test checks every asset's deps against the SQL
files it runs, and the Superset dashboards (``defs/superset/``) take their deps from the tables
their datasets read, both through ``tables_in_sql`` (sqlglot, PostgreSQL dialect).

* A table asset's own table is its ``dagster/table_name``; tables it writes besides are in
  ``OTHER_TABLES`` (and its ``pwr/also_writes`` metadata, which the test keeps equal).
* Views are followed to the tables they read (``VIEWS``); the raw tables' ``<table>_since(...)``
  functions (what the incremental transforms read new rows through) count as reads of the table.
* ``BOOKKEEPING`` tables are the transforms' own state (watermarks, stale-day marks): written and
  read inside the runs, never an input another asset waits for.

Parsing is slow (sqlglot, ~2.5 CPU-s for the whole code location on the development machine) and
the code location is imported by every Dagster run worker, so every run paid it again (issue 16).
The answers depend only on the SQL text and this module, so they are kept on disk under
``PWR_HOME/cache/lineage`` keyed by a hash of both (:func:`_cached`): the code server parses once,
the runs it launches read the answers back; a changed SQL file or a new version of this module
is a new key, parsed afresh. sqlglot itself is imported only when something is parsed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import AssetKey, TableColumnDep, TableColumnLineage

from pwr_platform.defs.keys import EVENTS, VOICE_HEATMAP, VOICE_SESSIONS
from pwr_platform.settings import get_settings
from pwr_platform.warehouse.sql_runner import STATEMENT_NAME as _NAME
from pwr_platform.warehouse.sql_runner import read_sql

if TYPE_CHECKING:
    from sqlglot import exp

OTHER_TABLES: dict[str, AssetKey] = {
    "pwr_core.event_channels": EVENTS,
    "pwr_core.collector_gaps": VOICE_SESSIONS,
    "pwr_agg.voice_heatmap_hourly": VOICE_HEATMAP,
}
VIEWS: dict[str, tuple[str, ...]] = {
    "pwr_core.event_windows": ("pwr_core.events",),
    "pwr_core.bot_event_state": (
        "pwr_core.events",
        "pwr_core.event_channels",
        "pwr_raw.discord_event_commands",
    ),
    "pwr_agg.voice_heatmap": ("pwr_agg.voice_heatmap_hourly",),
    "pwr_agg.reporting_periods": ("pwr_agg.member_voice_daily",),
    "pwr_agg.engagement_trend": ("pwr_agg.member_engagement_weekly", "pwr_agg.member_voice_daily"),
}
BOOKKEEPING = frozenset({"pwr_core.transform_watermarks", "pwr_core.stale_aggregate_days"})
SCHEMAS = ("pwr_raw", "pwr_core", "pwr_agg", "pwr_dota")

_PARAM = re.compile(r"%\((\w+)\)s")
# Python-format slots of the sessionizer's statements, filled as an incremental run fills them (a
# full rebuild writes the same tables through new partitions and session-local slices).
_SLOT = re.compile(r"\{(\w+)\}")
SLOTS = {
    "target": "pwr_core.voice_sessions",
    "sessions": "pwr_core.voice_sessions",
    "gaps": "pwr_core.collector_gaps",
    "ordered_events": "SELECT NULL",  # another named statement of the same file, parsed on its own
}
_SINCE = re.compile(r"^(\w+)_since$")


@dataclass
class Tables:
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)


_MODULE_HASH = hashlib.sha256(Path(__file__).read_bytes() + version("sqlglot").encode()).hexdigest()


def _cached(kind: str, text: str, compute: Callable[[], object]):
    """``compute()``'s JSON-able answer for ``text``, from ``PWR_HOME/cache/lineage`` when an
    earlier process (the code server, a previous run) already computed it; written atomically
    (a temporary file renamed into place), so processes loading the code location at the same
    time never read half a file. An unreadable entry is computed again."""
    key = hashlib.sha256(f"{_MODULE_HASH}\0{kind}\0{text}".encode()).hexdigest()
    path = get_settings().home / "cache" / "lineage" / f"{key}.json"
    try:
        return json.loads(path.read_text())["value"]
    except (OSError, ValueError, KeyError):
        pass
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps({"value": value}))
        scratch.replace(path)
    except OSError:
        pass  # a read-only home: parse every time, as before
    return value


def _name(table: exp.Table) -> str | None:
    return f"{table.db}.{table.name}" if table.db in SCHEMAS and table.name else None


def tables_in_sql(text: str) -> Tables:
    """Warehouse tables ``text`` reads and writes (views resolved, bookkeeping left out).

    ``%(name)s`` parameters are replaced by NULL first (sqlglot parses PostgreSQL, not psycopg's
    placeholders); a statement sqlglot cannot parse raises ``sqlglot.errors.ParseError``.
    """

    def parse() -> list[list[str]]:
        found = _parse_tables(text)
        return [sorted(found.reads), sorted(found.writes)]

    reads, writes = _cached("tables", text, parse)
    return Tables(set(reads), set(writes))


def _parse_tables(text: str) -> Tables:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    found = Tables()
    # sqlglot logs a warning for each statement it keeps as a plain command (CREATE TEMP TABLE …
    # ON COMMIT DROP): those create session-local tables only, never warehouse tables.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    # a file of named statements (``-- name: x``, no semicolons between them) is parsed statement by
    # statement, as sql_runner runs it
    bodies = _NAME.split(text)[2::2] or [text]
    statements = [
        statement
        for body in bodies
        for statement in sqlglot.parse(
            _SLOT.sub(lambda m: SLOTS[m.group(1)], _PARAM.sub("NULL", body)),
            read="postgres",
            error_level=ErrorLevel.RAISE,
        )
    ]
    for statement in statements:
        if statement is None:
            continue
        written = set()
        for node in statement.find_all(exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.TruncateTable):
            targets = node.expressions if isinstance(node, exp.TruncateTable) else [node.this]
            for target in targets:
                if isinstance(target, exp.Schema):
                    target = target.this
                if isinstance(target, exp.Table) and (name := _name(target)):
                    written.add(name)
        found.writes |= written
        for table in statement.find_all(exp.Table):
            name = _name(table)
            if name and name not in written:
                found.reads.add(name)
        for call in statement.find_all(exp.Table, exp.Dot):
            # pwr_raw.<table>_since(snapshot): the rows of <table> committed since. sqlglot gives it
            # as a Table over the call (in FROM) or as a Dot (elsewhere).
            if isinstance(call, exp.Table) and isinstance(call.this, exp.Anonymous):
                schema, function = call.db, call.this.name
            elif isinstance(call, exp.Dot) and isinstance(call.expression, exp.Anonymous):
                schema, function = call.this.name, call.expression.name
            else:
                continue
            match = _SINCE.match(function)
            if schema in SCHEMAS and match:
                found.reads.add(f"{schema}.{match.group(1)}")
    found.reads = resolve_views(found.reads) - BOOKKEEPING
    found.writes -= BOOKKEEPING
    return found


def resolve_views(tables: set[str]) -> set[str]:
    resolved: set[str] = set()
    pending = list(tables)
    while pending:
        table = pending.pop()
        if table in VIEWS:
            pending += [t for t in VIEWS[table] if t not in resolved]
        else:
            resolved.add(table)
    return resolved


def asset_of_table(table: str) -> AssetKey:
    """The asset a warehouse table belongs to: its own asset, or the one that also writes it."""
    return OTHER_TABLES.get(table) or AssetKey(table.split("."))


def column_lineage(sql_name: str) -> TableColumnLineage | None:
    """Which upstream columns each column of a dashboard table is computed from (see
    :func:`_parse_column_lineage`; cached on disk like :func:`tables_in_sql`)."""
    found = _cached("columns", read_sql(sql_name), lambda: _lineage_as_json(_parse_column_lineage(sql_name)))
    if not found:
        return None
    return TableColumnLineage(
        deps_by_column={
            column: [TableColumnDep(asset_key=AssetKey(path), column_name=name) for path, name in deps]
            for column, deps in found.items()
        }
    )


def _lineage_as_json(found: TableColumnLineage | None) -> dict | None:
    if found is None:
        return None
    return {
        column: [[dep.asset_key.path, dep.column_name] for dep in deps]
        for column, deps in found.deps_by_column.items()
    }


def _parse_column_lineage(sql_name: str) -> TableColumnLineage | None:
    """Which upstream columns each column of a dashboard table is computed from.

    Read from the file's ``INSERT INTO table (columns) SELECT …`` with sqlglot's lineage: each
    output column is traced through CTEs and subqueries to the warehouse columns it uses. Columns
    sqlglot cannot trace (a ``USING`` join it cannot attribute, ``count(*)``) are left out rather
    than guessed; views are not followed at column level.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.lineage import lineage

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    text = _PARAM.sub("NULL", read_sql(sql_name))
    for statement in sqlglot.parse(text, read="postgres"):
        if not (isinstance(statement, exp.Insert) and isinstance(statement.this, exp.Schema)):
            continue
        columns = [c.name for c in statement.this.expressions]
        select = statement.expression.copy()
        ctes = statement.args.get("with") or statement.args.get("with_")
        if ctes is not None and not select.args.get("with"):
            select.set("with", ctes.copy())
        select.set(
            "expressions", [exp.alias_(e.copy(), c) for e, c in zip(select.selects, columns, strict=True)]
        )
        deps_by_column: dict[str, list[TableColumnDep]] = {}
        for column in columns:
            try:
                node = lineage(column, select, dialect="postgres")
            except Exception:  # noqa: BLE001 - untraceable column: no lineage rather than a wrong one
                continue
            sources = {
                (f"{leaf.source.db}.{leaf.source.name}", leaf.name.split(".")[-1])
                for leaf in node.walk()
                if not leaf.downstream and isinstance(leaf.source, exp.Table) and leaf.source.db in SCHEMAS
            }
            deps = [
                TableColumnDep(asset_key=asset_of_table(table), column_name=name)
                for table, name in sorted(sources)
                if table not in VIEWS
            ]
            if deps:
                deps_by_column[column] = deps
        return TableColumnLineage(deps_by_column=deps_by_column) if deps_by_column else None
    return None
