-- Acceptance check (issue 5, "Freshness and acceptance"): the daily totals of a day equal the
-- session seconds falling on that day. Computed independently of member_voice_daily.sql: every
-- day of the checked window [%(start_date)s, %(end_date)s) is joined to the completed sessions
-- overlapping it, and each session's piece inside the day is rounded to whole seconds
-- ("Intervals and ties"). Returns one row per day whose table totals differ (empty = pass).
WITH days AS (
    SELECT d::date AS day,
           d AT TIME ZONE %(tz)s                      AS lo,
           (d + interval '1 day') AT TIME ZONE %(tz)s AS hi
    FROM generate_series(%(start_date)s::date::timestamp, %(end_date)s::date::timestamp - interval '1 day',
                         interval '1 day') AS d
), expected AS (
    SELECT d.day,
           -- least()/greatest() skip NULLs, so a day without sessions must not reach them
           coalesce(sum(greatest(round(extract(epoch FROM least(s.session_end_ts, d.hi)
                                                        - greatest(s.session_start_ts, d.lo))), 0))
                    FILTER (WHERE s.session_id IS NOT NULL), 0)::bigint AS seconds,
           count(s.session_id) FILTER (WHERE s.session_start_ts >= d.lo)                                 AS sessions
    FROM days AS d
    LEFT JOIN pwr_core.voice_sessions AS s
           ON s.is_completed
          AND s.session_start_ts >= d.lo - make_interval(hours => %(max_session_hours)s)
          AND s.session_start_ts < d.hi
          AND s.session_end_ts >= d.lo
    GROUP BY d.day
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
