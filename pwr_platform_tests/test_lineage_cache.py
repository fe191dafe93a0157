"""The SQL lineage the definitions carry is parsed once and read back from PWR_HOME/cache/lineage
(issue 16: every run worker imports the code location; parsing was ~2.5 CPU-s of each start)."""

from __future__ import annotations

import json

import pytest

from pwr_platform.defs.lineage import _parse_column_lineage, column_lineage, tables_in_sql
from pwr_platform.settings import get_settings

SQL = "INSERT INTO pwr_agg.member_trend SELECT * FROM pwr_core.members"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PWR_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path / "cache" / "lineage"
    get_settings.cache_clear()


def test_answers_are_read_back_keyed_by_the_sql_text(home) -> None:
    found = tables_in_sql(SQL)
    assert (found.reads, found.writes) == ({"pwr_core.members"}, {"pwr_agg.member_trend"})
    (entry,) = home.glob("*.json")
    # what is on disk is what the next process gets (proven by changing it)
    entry.write_text(json.dumps({"value": [["pwr_core.events"], []]}))
    assert tables_in_sql(SQL).reads == {"pwr_core.events"}
    # other SQL is another key, parsed afresh
    assert tables_in_sql(SQL + " WHERE true").reads == {"pwr_core.members"}
    assert len(list(home.glob("*.json"))) == 2
    # an unreadable entry is parsed again and rewritten
    entry.write_text("{half a fi")
    assert tables_in_sql(SQL).reads == {"pwr_core.members"}
    assert json.loads(entry.read_text())["value"] == [["pwr_core.members"], ["pwr_agg.member_trend"]]


def test_cached_column_lineage_equals_a_fresh_parse(home) -> None:
    fresh = _parse_column_lineage("event_success")
    assert fresh is not None and fresh.deps_by_column
    assert column_lineage("event_success") == fresh  # parsed, written
    assert list(home.glob("*.json"))
    assert column_lineage("event_success") == fresh  # read back


def test_sql_that_does_not_parse_still_fails_and_is_not_cached(home) -> None:
    from sqlglot.errors import ParseError

    with pytest.raises(ParseError):
        tables_in_sql("SELECT FROM WHERE (")
    assert not list(home.glob("*.json"))
