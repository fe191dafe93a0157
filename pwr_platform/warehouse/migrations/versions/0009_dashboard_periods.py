"""Dashboard periods: which day / week / month is still in progress, and the weekly engagement trend.

Trend charts must not draw the running period as a collapse, so they need to know which period
is incomplete. ``pwr_agg.reporting_periods`` answers from the data's own clock (the newest local
day in ``member_voice_daily``, as ``member_trend`` does), never the wall clock, so a warehouse
restored or simulated at any date reads the same. ``pwr_agg.engagement_trend`` is the Member
Engagement answer to "how is overall engagement trending?": per week, flagged complete or not, with
week-over-week change and 4-week rolling averages. Both are views over small aggregate tables
(one index probe / a few hundred weekly rows), so they are always current without an asset.
"""

from alembic import op

revision = "0009_dashboard_periods"
down_revision = "0008_pipeline_recovery"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- The period in progress, by the data's clock: the newest local day with voice
-- (member_voice_daily dates are already in PWR_TIMEZONE) is taken to be "today"; its ISO week
-- (Monday start) and month are the current, incomplete week and month. Trend charts show only
-- periods that start before these. One row (none while member_voice_daily is empty).
CREATE VIEW pwr_agg.reporting_periods AS
SELECT max(activity_date)                              AS as_of_date,
       date_trunc('week', max(activity_date))::date    AS current_week_start,
       date_trunc('month', max(activity_date))::date   AS current_month_start
FROM pwr_agg.member_voice_daily
HAVING max(activity_date) IS NOT NULL;
COMMENT ON VIEW pwr_agg.reporting_periods IS
    'The day, ISO week and month in progress by the data''s clock (newest day in member_voice_daily).';

-- Weekly engagement of the whole community, every ISO week from the first with data to the one
-- in progress (a week with nobody active is a 0 row, so lag / rolling windows count weeks, not
-- rows); in_complete_week = the week is before reporting_periods.current_week_start (charts
-- show only those):
--   active_members               = members with voice seconds > 0 or an attended event that week;
--   voice_hours                  = all members' voice hours that week;
--   hours_per_active_member      = voice_hours / active_members (NULL when nobody was active);
--   *_wow_change                 = this week minus the week before (NULL for the first week);
--   *_4wk_avg                    = mean over this week and the 3 before (fewer at the start).
CREATE VIEW pwr_agg.engagement_trend AS
WITH bounds AS (
    SELECT min(w.week_start_date) AS first_week, p.current_week_start
    FROM pwr_agg.member_engagement_weekly AS w, pwr_agg.reporting_periods AS p
    GROUP BY p.current_week_start
), weeks AS (
    SELECT generate_series(first_week, current_week_start, interval '7 days')::date AS week_start_date,
           current_week_start
    FROM bounds
), per_week AS (
    SELECT k.week_start_date, k.current_week_start,
           count(w.member_id) FILTER (WHERE w.total_voice_seconds > 0 OR w.events_attended > 0) AS active_members,
           coalesce(sum(w.total_voice_seconds), 0) / 3600.0 AS voice_hours
    FROM weeks AS k
    LEFT JOIN pwr_agg.member_engagement_weekly AS w USING (week_start_date)
    GROUP BY k.week_start_date, k.current_week_start
), ratios AS (
    SELECT *, voice_hours / nullif(active_members, 0) AS hours_per_active_member FROM per_week
)
SELECT week_start_date,
       active_members,
       round(voice_hours, 2)                                                     AS voice_hours,
       round(hours_per_active_member, 2)                                         AS hours_per_active_member,
       active_members - lag(active_members) OVER w                               AS active_members_wow_change,
       round(hours_per_active_member - lag(hours_per_active_member) OVER w, 2)   AS hours_per_active_member_wow_change,
       round(avg(active_members) OVER w4, 2)                                     AS active_members_4wk_avg,
       round(avg(hours_per_active_member) OVER w4, 2)                            AS hours_per_active_member_4wk_avg,
       week_start_date < current_week_start                                      AS in_complete_week
FROM ratios
WINDOW w AS (ORDER BY week_start_date),
       w4 AS (ORDER BY week_start_date ROWS BETWEEN 3 PRECEDING AND CURRENT ROW);
COMMENT ON VIEW pwr_agg.engagement_trend IS
    'Weekly active members and voice hours per active member (in_complete_week marks complete weeks), with week-over-week change and 4-week averages.';
"""

DOWNGRADE = r"""
DROP VIEW IF EXISTS pwr_agg.engagement_trend;
DROP VIEW IF EXISTS pwr_agg.reporting_periods;
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
