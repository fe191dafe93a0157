-- Acceptance check: weekly voice totals equal the sum of their days. For every (ISO week,
-- member) in the checked weeks [%(start_date)s, %(end_date)s), total_voice_seconds must equal the
-- sum of the member's member_voice_daily rows of that week, in both directions (a week with
-- daily voice but no weekly row fails too). Returns the differing pairs (empty = pass).
WITH from_days AS (
    SELECT date_trunc('week', activity_date)::date AS week_start_date, member_id,
           sum(total_voice_seconds)::bigint AS seconds
    FROM pwr_agg.member_voice_daily
    WHERE activity_date >= %(start_date)s::date AND activity_date < %(end_date)s::date
    GROUP BY 1, 2
), stored AS (
    SELECT week_start_date, member_id, total_voice_seconds AS seconds
    FROM pwr_agg.member_engagement_weekly
    WHERE week_start_date >= %(start_date)s::date AND week_start_date < %(end_date)s::date
)
SELECT week_start_date, member_id, s.seconds AS weekly_seconds, d.seconds AS sum_of_days
FROM stored AS s
FULL JOIN from_days AS d USING (week_start_date, member_id)
WHERE coalesce(s.seconds, 0) <> coalesce(d.seconds, 0) OR s.seconds IS NULL
ORDER BY week_start_date, member_id;
