"""Dota League Insights: schema ``pwr_dota`` for the community's league matches (OpenDota).

Revision ID: 0014_dota
Revises: 0013_column_docs
Create Date: 2026-12-06

* ``raw_matches`` — each match document as OpenDota's ``/matches/{id}`` serves it (or as a saved
  file holds it), kept whole like the voice payloads: the modelled tables can be rebuilt from it
  whenever the model changes, without fetching anything again. One row per match id, so a match
  is fetched and stored once.
* ``raw_references`` — the other documents the model needs: ``/heroes`` (hero names) and each
  league's ``/leagues/{id}`` (its name), the newest copy of each.
* ``quarantine`` — documents that could not be used (not JSON, no match id, no players, no
  result …) with the reason, so a bad response is visible and never silently dropped or half-loaded.
* ``heroes``, ``leagues``, ``matches``, ``match_players`` — the modelled tables the Dagster assets
  build from the raw documents (sql/dota_*.sql); ``match_players`` holds one row per player slot.
* ``player_links`` — which Discord member plays under which Steam account id (``pwr dota link``,
  ``pwr dota links import``): where league play and event attendance meet.

The read-only Superset role may read the modelled tables and the links, not the raw documents
(the same rule as pwr_raw).
"""

from alembic import op

from pwr_platform.warehouse.column_docs import apply_column_docs

revision = "0014_dota"
down_revision = "0013_column_docs"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE SCHEMA IF NOT EXISTS pwr_dota;

CREATE TABLE pwr_dota.raw_matches (
    match_id    BIGINT      PRIMARY KEY,
    league_id   BIGINT,
    document    JSONB       NOT NULL,
    source      TEXT        NOT NULL,
    fetched_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    ingest_xid  xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX raw_matches_ingest_xid ON pwr_dota.raw_matches (ingest_xid);

CREATE TABLE pwr_dota.raw_references (
    kind        TEXT        NOT NULL CHECK (kind IN ('heroes', 'league')),
    ref_id      BIGINT      NOT NULL,
    document    JSONB       NOT NULL,
    source      TEXT        NOT NULL,
    fetched_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, ref_id)
);

CREATE TABLE pwr_dota.quarantine (
    id              BIGSERIAL   PRIMARY KEY,
    match_id        BIGINT,
    source          TEXT        NOT NULL,
    reason          TEXT        NOT NULL,
    document        TEXT        NOT NULL,
    quarantined_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE pwr_dota.heroes (
    hero_id         INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL,
    localized_name  TEXT    NOT NULL
);

CREATE TABLE pwr_dota.leagues (
    league_id   BIGINT PRIMARY KEY,
    name        TEXT   NOT NULL
);

CREATE TABLE pwr_dota.matches (
    match_id          BIGINT      PRIMARY KEY,
    league_id         BIGINT,
    start_ts          TIMESTAMPTZ NOT NULL,
    duration_seconds  INTEGER     NOT NULL,
    radiant_win       BOOLEAN,
    winning_side      TEXT        CHECK (winning_side IN ('radiant', 'dire')),
    radiant_team      TEXT,
    dire_team         TEXT
);
CREATE INDEX matches_league_start ON pwr_dota.matches (league_id, start_ts);

CREATE TABLE pwr_dota.match_players (
    match_id      BIGINT   NOT NULL,
    player_slot   SMALLINT NOT NULL,
    account_id    BIGINT,
    hero_id       INTEGER,
    side          TEXT     NOT NULL CHECK (side IN ('radiant', 'dire')),
    is_win        BOOLEAN,
    kills         INTEGER,
    deaths        INTEGER,
    assists       INTEGER,
    gold_per_min  INTEGER,
    xp_per_min    INTEGER,
    last_hits     INTEGER,
    net_worth     INTEGER,
    PRIMARY KEY (match_id, player_slot)
);
CREATE INDEX match_players_account ON pwr_dota.match_players (account_id);

CREATE TABLE pwr_dota.player_links (
    account_id       BIGINT      PRIMARY KEY,
    discord_user_id  BIGINT      NOT NULL,
    source           TEXT        NOT NULL,
    linked_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX player_links_discord_user ON pwr_dota.player_links (discord_user_id);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pwr_reader') THEN
        GRANT USAGE ON SCHEMA pwr_dota TO pwr_reader;
        GRANT SELECT ON pwr_dota.heroes, pwr_dota.leagues, pwr_dota.matches, pwr_dota.match_players,
            pwr_dota.player_links TO pwr_reader;
    END IF;
END
$$;
"""

DOWNGRADE = """
DROP SCHEMA IF EXISTS pwr_dota CASCADE;
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)
    apply_column_docs(op.get_bind())


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
