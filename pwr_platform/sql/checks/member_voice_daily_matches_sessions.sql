-- Acceptance check (issue 5, "Freshness and acceptance"): the daily totals of a day equal the
-- session seconds falling on that day. Computed independently of member_voice_daily.sql: for every
-- day of the checked window [%(start_date)s, %(end_date)s), the completed sessions overlapping it
-- (started before the day ends, ended at or after it begins, started at most the session cap
-- before it), and each session's piece inside the day rounded to whole seconds ("Intervals and
-- ties"). Returns one row per day whose table totals differ (empty = pass).
-- The sessions are paired with the days they could touch by their start day alone (the start day
-- and the days after it within the cap), not by their end as the aggregate does; the day's bounds
-- then decide. One pass over the sessions: 3.8 s instead of 20 s for two years of 5,000 members
-- (a join of each day to the sessions index, 730 index scans; issue 16, sixth round).
WITH days AS (
    SELECT d::date AS day,
           d AT TIME ZONE %(tz)s                      AS lo,
           (d + interval '1 day') AT TIME ZONE %(tz)s AS hi
    FROM generate_series(%(start_date)s::date::timestamp, %(end_date)s::date::timestamp - interval '1 day',
                         interval '1 day') AS d
), candidates AS (
    -- every completed session that may touch the window, once for each local day it could
    -- touch: its start day and the days after it within the session cap (+ 2 h for DST); the
    -- day's own bounds then decide, as for a day joined to the sessions overlapping it
    SELECT s.session_start_ts, s.session_end_ts, c.day,
           c.day::timestamp AT TIME ZONE %(tz)s       AS lo,
           (c.day + 1)::timestamp AT TIME ZONE %(tz)s AS hi
    FROM pwr_core.voice_sessions AS s
    CROSS JOIN LATERAL (
        SELECT (s.session_start_ts AT TIME ZONE %(tz)s)::date + k AS day
        FROM generate_series(0, ceil((%(max_session_hours)s + 2) / 24.0)::int) AS k
    ) AS c
    WHERE s.is_completed
      AND s.session_start_ts >= %(start_date)s::date::timestamp AT TIME ZONE %(tz)s - make_interval(hours => %(max_session_hours)s)
      AND s.session_start_ts < %(end_date)s::date::timestamp AT TIME ZONE %(tz)s
      AND c.day >= %(start_date)s::date AND c.day < %(end_date)s::date
), touching AS (
    SELECT day,
           sum(greatest(round(extract(epoch FROM least(session_end_ts, hi) - greatest(session_start_ts, lo))), 0)) AS seconds,
           count(*) FILTER (WHERE session_start_ts >= lo)                                                      AS sessions
    FROM candidates
    WHERE session_start_ts >= lo - make_interval(hours => %(max_session_hours)s)
      AND session_start_ts < hi
      AND session_end_ts >= lo
    GROUP BY day
), expected AS (
    SELECT d.day, coalesce(t.seconds, 0)::bigint AS seconds, coalesce(t.sessions, 0) AS sessions
    FROM days AS d
    LEFT JOIN touching AS t USING (day)
), stored AS (
    SELECT activity_date AS day, sum(total_voice_seconds)::bigint AS seconds, sum(total_sessions)::bigint AS sessions
    FROM pwr_agg.member_voice_daily
    WHERE activity_date >= %(start_date)s::date AND activity_date < %(end_date)s::date
    GROUP BY 1
)
SELECT e.day, coalesce(t.seconds, 0) AS stored_seconds, e.seconds AS session_seconds,
       coalesce(t.sessions, 0) AS stored_sessions, e.sessions AS started_sessions
FROM expected AS e
LEFT JOIN stored AS t USING (day)
WHERE (coalesce(t.seconds, 0), coalesce(t.sessions, 0)) IS DISTINCT FROM (e.seconds, e.sessions)
ORDER BY e.day;
