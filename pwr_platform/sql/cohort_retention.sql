-- pwr_agg.cohort_retention — issue "Dashboard views": cohort retention by join month × months
-- since join, from pwr_agg.member_monthly_status (ARCHITECTURE.md "member_monthly_status").
-- cohort_month      = local month (PWR_TIMEZONE = %(tz)s) of coalesce(join_date, first_seen_ts);
-- cohort_size       = every member of that cohort (leavers stay in it: leaving is not retention);
-- active_members    = cohort members with was_active in the month cohort_month + months_since_join;
-- retention_rate    = active_members / cohort_size, 0..1, rounded to 4 places.
-- One row per cohort and every status month from the cohort's month on (0 active when nobody was).
-- Only cohorts whose join month is a status month are kept (cohort_month >= the first month of
-- member_monthly_status): an earlier cohort would start at months_since_join > 0, and the chart
-- must read as a triangle from month 0 for every cohort shown (issue 12).

DELETE FROM pwr_agg.cohort_retention;

INSERT INTO pwr_agg.cohort_retention
    (cohort_month, months_since_join, cohort_size, active_members, retention_rate)
WITH cohorts AS (
    SELECT member_id,
           date_trunc('month', coalesce(join_date, first_seen_ts) AT TIME ZONE %(tz)s)::date AS cohort_month
    FROM pwr_core.members
), status_months AS (
    SELECT DISTINCT month_start_date FROM pwr_agg.member_monthly_status
), sizes AS (
    SELECT cohort_month, count(*) AS cohort_size
    FROM cohorts
    WHERE cohort_month >= (SELECT min(month_start_date) FROM status_months)
    GROUP BY 1
), active AS (
    SELECT c.cohort_month, s.month_start_date, count(*) AS active_members
    FROM pwr_agg.member_monthly_status AS s
    JOIN cohorts AS c USING (member_id)
    WHERE s.was_active
    GROUP BY 1, 2
)
SELECT z.cohort_month,
       ((extract(year FROM m.month_start_date) - extract(year FROM z.cohort_month)) * 12
        + extract(month FROM m.month_start_date) - extract(month FROM z.cohort_month))::int,
       z.cohort_size,
       coalesce(a.active_members, 0),
       round(coalesce(a.active_members, 0)::numeric / z.cohort_size, 4)
FROM sizes AS z
JOIN status_months AS m ON m.month_start_date >= z.cohort_month
LEFT JOIN active AS a ON a.cohort_month = z.cohort_month AND a.month_start_date = m.month_start_date;

SELECT count(*) AS rows_written, count(DISTINCT cohort_month) AS cohorts FROM pwr_agg.cohort_retention;
