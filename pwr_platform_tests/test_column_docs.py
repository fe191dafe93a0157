"""Column descriptions written once (``pwr_platform/warehouse/column_docs.yaml``, applied as
PostgreSQL comments by migration 0013) and checked against the Superset datasets.

The rule for the datasets (superset/assets/datasets/**.yaml): a dataset over a warehouse table or
view carries, for every column of that relation, the relation's PostgreSQL comment as its
``description``, word for word; a column the dataset's own SQL adds (not in the relation), and
every column of a dataset over a name that is no relation (the drill-down datasets), carries a
description of its own. So a reader of a chart sees the same words as a reader of ``\\d+``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
import yaml

from pwr_platform.warehouse import migrate
from pwr_platform.warehouse.column_docs import SCHEMAS, column_docs

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_DIR = REPO_ROOT / "superset" / "assets" / "datasets"

COMMENTS = """
SELECT n.nspname || '.' || c.relname, obj_description(c.oid, 'pg_class'),
       a.attname, col_description(c.oid, a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
ORDER BY 1, a.attnum
"""


def catalog_comments(conn: psycopg.Connection) -> dict[str, dict]:
    """``{"schema.table": {"table": comment, "columns": {column: comment}}}`` from pg_catalog."""
    found: dict[str, dict] = {}
    for rel, table_comment, column, comment in conn.execute(COMMENTS, (list(SCHEMAS),)):
        found.setdefault(rel, {"table": table_comment, "columns": {}})["columns"][column] = comment
    return found


def dataset_disagreements(datasets_dir: Path, comments: dict[str, dict]) -> list[str]:
    """One line per dataset column that breaks the rule in this module's docstring."""
    problems = []
    for path in sorted(datasets_dir.rglob("*.yaml")):
        dataset = yaml.safe_load(path.read_text(encoding="utf-8"))
        relation = comments.get(f"{dataset['schema']}.{dataset['table_name']}", {"columns": {}})
        for column in dataset.get("columns") or []:
            name, description = column["column_name"], column.get("description")
            where = f"{path.relative_to(datasets_dir.parent.parent)}: column {name}"
            if name in relation["columns"] and not column.get("expression"):
                expected = relation["columns"][name]
                if description != expected:
                    problems.append(
                        f"{where}: description {description!r} differs from the PostgreSQL "
                        f"comment {expected!r} (pwr_platform/warehouse/column_docs.yaml)"
                    )
            elif not (description or "").strip():
                problems.append(f"{where}: no description (the column is not in a warehouse relation)")
    return problems


@pytest.fixture(scope="module")
def comments(pg_server_url: str, template_db: str) -> dict[str, dict]:
    from pwr_platform.warehouse.connection import with_database

    with psycopg.connect(with_database(pg_server_url, template_db)) as conn:
        return catalog_comments(conn)


def test_every_table_view_and_column_has_a_comment(comments):
    missing = [
        f"{rel}.{col}" for rel, doc in comments.items() for col, text in doc["columns"].items() if not text
    ]
    missing += [rel for rel, doc in comments.items() if not doc["table"]]
    assert comments and not missing, f"no comment on: {missing}"
    # 32 + the 8 of pwr_dota (0014) + pwr_core.voice_channels (0015) + pwr_raw.discord_channel_events (0019)
    assert len(comments) == 42
    assert sum(len(doc["columns"]) for doc in comments.values()) == 284


def test_the_comments_are_the_yaml_word_for_word(comments):
    """The YAML names nothing that is gone and says exactly what the catalog holds."""
    assert sorted(column_docs()) == sorted(comments)
    for rel, doc in column_docs().items():
        assert comments[rel]["table"] == doc["table"], rel
        assert comments[rel]["columns"] == doc["columns"], rel


def test_comments_survive_a_downgrade_and_upgrade_again(empty_database_url):
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config(empty_database_url))
    before = script.get_revision("0013_column_docs").down_revision
    migrate.upgrade(empty_database_url)
    migrate.downgrade(empty_database_url, before)
    migrate.upgrade(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        assert (
            catalog_comments(conn)["pwr_core.voice_sessions"]["columns"]["close_reason"]
            == (column_docs()["pwr_core.voice_sessions"]["columns"]["close_reason"])
        )


def test_superset_datasets_agree_with_the_comments(comments):
    assert dataset_disagreements(DATASETS_DIR, comments) == []


def test_a_dataset_that_says_otherwise_is_named(comments, tmp_path):
    """The agreement test is not vacuous: a copy of the bundle with one edited description fails."""
    copy = tmp_path / "superset" / "assets" / "datasets"
    shutil.copytree(DATASETS_DIR, copy)
    members = next(copy.rglob("members.yaml"))
    text = members.read_text(encoding="utf-8")
    members.write_text(text.replace("description: Newest Discord username.", "description: Login name."))
    derived = next(copy.rglob("member_profile_daily.yaml"))
    dataset = yaml.safe_load(derived.read_text(encoding="utf-8"))
    dataset["columns"][0]["description"] = None
    derived.write_text(yaml.safe_dump(dataset, sort_keys=False), encoding="utf-8")

    problems = dataset_disagreements(copy, comments)

    assert len(problems) == 2, problems
    changed = next(p for p in problems if "members.yaml" in p)
    assert "members.yaml: column username: description 'Login name.' differs" in changed
    assert "'Newest Discord username.'" in changed
    column = dataset["columns"][0]["column_name"]
    assert any(f"member_profile_daily.yaml: column {column}: no description" in p for p in problems)
