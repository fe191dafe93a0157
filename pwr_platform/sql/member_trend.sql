-- pwr_agg.member_trend — issue "Dashboard views": rising / falling members.
-- Frame, relative to the data's newest day D (max activity_date of member_voice_daily), never
-- the wall clock: the last 4 full ISO weeks up to D ("recent": a week is full when its Sunday
-- is <= D) and the 4 weeks before them ("previous"), from pwr_agg.member_engagement_weekly.
-- Members listed: those who had joined by the end of the recent weeks and had not left before
-- the previous weeks began, plus anyone with activity in the frame.
-- activity = voice hours + 1 per event attended (one event counts like an hour in voice), and
--   inactive : no activity in either period;
--   new      : no previous activity, some recent, and joined on/after the previous period began;
--   rising   : recent activity >= 1.25 × previous (a returning member with no previous activity too);
--   falling  : recent activity <= 0.75 × previous;
--   steady   : otherwise.
-- voice_hours_change = recent - previous voice hours.

DELETE FROM pwr_agg.member_trend;

INSERT INTO pwr_agg.member_trend
    (member_id, display_name, recent_voice_hours, previous_voice_hours, recent_events, previous_events,
     voice_hours_change, trend_label, recent_weeks_start, recent_weeks_end)
WITH frame AS (
    SELECT date_trunc('week', max(activity_date) + 1)::date - 28 AS recent_start,
           date_trunc('week', max(activity_date) + 1)::date      AS recent_end,
           date_trunc('week', max(activity_date) + 1)::date - 56 AS previous_start
    FROM pwr_agg.member_voice_daily
    HAVING max(activity_date) IS NOT NULL
), per_member AS (
    SELECT w.member_id,
           coalesce(sum(w.total_voice_seconds) FILTER (WHERE w.week_start_date >= f.recent_start), 0) / 3600.0 AS recent_hours,
           coalesce(sum(w.total_voice_seconds) FILTER (WHERE w.week_start_date < f.recent_start), 0) / 3600.0  AS previous_hours,
           coalesce(sum(w.events_attended) FILTER (WHERE w.week_start_date >= f.recent_start), 0)              AS recent_events,
           coalesce(sum(w.events_attended) FILTER (WHERE w.week_start_date < f.recent_start), 0)               AS previous_events
    FROM pwr_agg.member_engagement_weekly AS w, frame AS f
    WHERE w.week_start_date >= f.previous_start AND w.week_start_date < f.recent_end
    GROUP BY w.member_id
), scoped AS (
    SELECT m.member_id, m.display_name,
           coalesce(m.join_date, m.first_seen_ts) >= f.previous_start::timestamp AT TIME ZONE %(tz)s AS joined_in_frame,
           coalesce(p.recent_hours, 0) AS recent_hours, coalesce(p.previous_hours, 0) AS previous_hours,
           coalesce(p.recent_events, 0) AS recent_events, coalesce(p.previous_events, 0) AS previous_events,
           f.recent_start, f.recent_end
    FROM pwr_core.members AS m
    CROSS JOIN frame AS f
    LEFT JOIN per_member AS p USING (member_id)
    WHERE p.member_id IS NOT NULL
       OR (coalesce(m.join_date, m.first_seen_ts) < f.recent_end::timestamp AT TIME ZONE %(tz)s
           AND (m.leave_date IS NULL OR m.leave_date >= f.previous_start::timestamp AT TIME ZONE %(tz)s))
), scored AS (
    SELECT *, recent_hours + recent_events AS recent_activity, previous_hours + previous_events AS previous_activity
    FROM scoped
)
SELECT member_id, display_name,
       round(recent_hours, 2), round(previous_hours, 2), recent_events, previous_events,
       round(recent_hours - previous_hours, 2),
       CASE WHEN recent_activity = 0 AND previous_activity = 0 THEN 'inactive'
            WHEN previous_activity = 0 AND joined_in_frame THEN 'new'
            WHEN recent_activity >= 1.25 * previous_activity THEN 'rising'
            WHEN recent_activity <= 0.75 * previous_activity THEN 'falling'
            ELSE 'steady' END,
       recent_start, recent_end - 1
FROM scored;

SELECT count(*) AS rows_written,
       count(*) FILTER (WHERE trend_label = 'rising')  AS rising,
       count(*) FILTER (WHERE trend_label = 'falling') AS falling
FROM pwr_agg.member_trend;
