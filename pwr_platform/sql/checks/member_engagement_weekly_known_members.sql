-- Acceptance check: no member_engagement_weekly row for an unknown member. The member must exist
-- in pwr_core.members and have, in that week, member_voice_daily rows or attendance of a completed
-- event whose window starts in the week. Weeks [%(start_date)s, %(end_date)s). Empty = pass.
WITH active AS (
    SELECT date_trunc('week', activity_date)::date AS week_start_date, member_id
    FROM pwr_agg.member_voice_daily
    WHERE activity_date >= %(start_date)s::date AND activity_date < %(end_date)s::date
    UNION
    SELECT date_trunc('week', CASE WHEN e.actual_start_ts IS NOT NULL AND e.actual_end_ts IS NOT NULL
                                   THEN e.actual_start_ts ELSE e.scheduled_start_ts END AT TIME ZONE %(tz)s)::date,
           a.member_id
    FROM pwr_core.event_attendance AS a
    JOIN pwr_core.events AS e USING (event_id)
    WHERE e.status = 'completed'
)
SELECT w.week_start_date, w.member_id, (m.member_id IS NULL) AS member_missing
FROM pwr_agg.member_engagement_weekly AS w
LEFT JOIN pwr_core.members AS m USING (member_id)
LEFT JOIN active AS x USING (week_start_date, member_id)
WHERE w.week_start_date >= %(start_date)s::date AND w.week_start_date < %(end_date)s::date
  AND (m.member_id IS NULL OR x.member_id IS NULL)
ORDER BY w.week_start_date, w.member_id;
