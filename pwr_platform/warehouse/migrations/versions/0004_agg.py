"""Dashboard tables of the pwr_agg layer and the hourly voice table behind the heatmap.

Revision ID: 0004_agg
Revises: 0003_core
Create Date: 2026-11-25

The dashboards read small, precomputed tables so that every query answers in milliseconds at
millions of sessions. Each table is refreshed by the Dagster asset of the same name (SQL in
``pwr_platform/sql/<name>.sql``), replacing its rows in one transaction, so readers always see
a complete old or a complete new state. ``voice_heatmap`` is a view over the hourly table that
the daily-partitioned ``voice_heatmap`` asset fills one day at a time.
"""

from alembic import op

revision = "0004_agg"
down_revision = "0003_core"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- Voice seconds per local day and hour of day (PWR_TIMEZONE), all members together.
CREATE TABLE pwr_agg.voice_heatmap_hourly (
    activity_date DATE     NOT NULL,
    hour_of_day   SMALLINT NOT NULL CHECK (hour_of_day BETWEEN 0 AND 23),
    voice_seconds BIGINT   NOT NULL,
    PRIMARY KEY (activity_date, hour_of_day)
);
COMMENT ON TABLE pwr_agg.voice_heatmap_hourly IS
    'Completed-session voice seconds per local day and hour (PWR_TIMEZONE); source of pwr_agg.voice_heatmap.';

CREATE VIEW pwr_agg.voice_heatmap AS
SELECT extract(isodow FROM activity_date)::int                  AS weekday,
       trim(to_char(min(activity_date), 'Day'))                  AS weekday_name,
       hour_of_day::int                                          AS hour_of_day,
       round(sum(voice_seconds) / 3600.0, 2)                     AS voice_hours
FROM pwr_agg.voice_heatmap_hourly
GROUP BY 1, 3;
COMMENT ON VIEW pwr_agg.voice_heatmap IS
    'Total voice hours per ISO weekday (1 = Monday) and hour of day in PWR_TIMEZONE.';

CREATE TABLE pwr_agg.cohort_retention (
    cohort_month      DATE    NOT NULL,
    months_since_join INTEGER NOT NULL CHECK (months_since_join >= 0),
    cohort_size       INTEGER NOT NULL,
    active_members    INTEGER NOT NULL,
    retention_rate    NUMERIC(5, 4) NOT NULL CHECK (retention_rate BETWEEN 0 AND 1),
    PRIMARY KEY (cohort_month, months_since_join)
);
COMMENT ON TABLE pwr_agg.cohort_retention IS
    'Members who joined in a month (cohort) and the share of them active N months later.';

CREATE TABLE pwr_agg.member_trend (
    member_id             BIGINT  PRIMARY KEY,
    display_name          TEXT,
    recent_voice_hours    NUMERIC(12, 2) NOT NULL,
    previous_voice_hours  NUMERIC(12, 2) NOT NULL,
    recent_events         INTEGER NOT NULL,
    previous_events       INTEGER NOT NULL,
    voice_hours_change    NUMERIC(12, 2) NOT NULL,
    trend_label           TEXT    NOT NULL CHECK (trend_label IN ('rising', 'falling', 'steady', 'new', 'inactive')),
    recent_weeks_start    DATE    NOT NULL,
    recent_weeks_end      DATE    NOT NULL
);
COMMENT ON TABLE pwr_agg.member_trend IS
    'Voice hours and events per member in the last 4 full weeks vs the 4 before, with a trend label.';
CREATE INDEX member_trend_label ON pwr_agg.member_trend (trend_label);

CREATE TABLE pwr_agg.event_success (
    event_id                 BIGINT PRIMARY KEY,
    name                     TEXT        NOT NULL,
    event_type               TEXT,
    window_start_ts          TIMESTAMPTZ NOT NULL,
    attendees                INTEGER     NOT NULL,
    on_time_attendees        INTEGER     NOT NULL,
    late_attendees           INTEGER     NOT NULL,
    on_time_share            NUMERIC(5, 4),
    avg_minutes_per_attendee NUMERIC(10, 2),
    total_voice_seconds      BIGINT      NOT NULL
);
COMMENT ON TABLE pwr_agg.event_success IS
    'Per completed event: attendees, how many came on time, and average minutes per attendee.';
CREATE INDEX event_success_window ON pwr_agg.event_success (window_start_ts);

CREATE TABLE pwr_agg.event_type_success (
    event_type               TEXT PRIMARY KEY,
    events                   INTEGER NOT NULL,
    avg_attendees            NUMERIC(10, 2) NOT NULL,
    on_time_share            NUMERIC(5, 4),
    avg_minutes_per_attendee NUMERIC(10, 2)
);
COMMENT ON TABLE pwr_agg.event_type_success IS
    'Event success per event type (events without a type are grouped as ''(none)'').';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS pwr_agg.event_type_success;
DROP TABLE IF EXISTS pwr_agg.event_success;
DROP TABLE IF EXISTS pwr_agg.member_trend;
DROP TABLE IF EXISTS pwr_agg.cohort_retention;
DROP VIEW IF EXISTS pwr_agg.voice_heatmap;
DROP TABLE IF EXISTS pwr_agg.voice_heatmap_hourly;
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
