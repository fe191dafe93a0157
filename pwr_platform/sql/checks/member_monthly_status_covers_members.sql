-- Acceptance check: monthly status covers every eligible member, and only them. For each month
-- in [%(start_date)s, %(end_date)s) (PWR_TIMEZONE), every member who had joined by the month's end
-- and had not left before its start has a row ('missing' otherwise), and no row belongs to anyone
-- else ('unexpected': an unknown member, or one not eligible that month). Empty = pass.
WITH months AS (
    SELECT m::date AS month_start_date,
           m AT TIME ZONE %(tz)s                        AS lo,
           (m + interval '1 month') AT TIME ZONE %(tz)s AS hi
    FROM generate_series(%(start_date)s::date::timestamp, %(end_date)s::date::timestamp - interval '1 month',
                         interval '1 month') AS m
), eligible AS (
    SELECT mo.month_start_date, mb.member_id
    FROM months AS mo
    JOIN pwr_core.members AS mb
      ON coalesce(mb.join_date, mb.first_seen_ts) < mo.hi
     AND (mb.leave_date IS NULL OR mb.leave_date >= mo.lo)
), stored AS (
    SELECT month_start_date, member_id
    FROM pwr_agg.member_monthly_status
    WHERE month_start_date >= %(start_date)s::date AND month_start_date < %(end_date)s::date
)
SELECT month_start_date, member_id,
       CASE WHEN s.member_id IS NULL THEN 'missing' ELSE 'unexpected' END AS problem
FROM eligible AS e
FULL JOIN stored AS s USING (month_start_date, member_id)
WHERE e.member_id IS NULL OR s.member_id IS NULL
ORDER BY month_start_date, member_id;
