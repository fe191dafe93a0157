-- Acceptance check: no member_voice_daily row for an unknown member. A row's member must exist in
-- pwr_core.members AND have a completed session touching that day (started on it, or a positive
-- overlap): a row left over after a session rebuild, for a member with no voice that day, is as
-- unknown to the sources as a deleted member. Window [%(start_date)s, %(end_date)s). Empty = pass.
-- Sessions are paired with the local days they could touch by their start day alone (the start
-- day and the days after it within the session cap, + 2 h for a DST change); each day's bounds
-- then decide, as in member_voice_daily_matches_sessions.sql: one pass over the sessions instead
-- of one index scan per day (two years of 5,000 members: see bench/README.md, issue 16 sixth round).
WITH candidates AS (
    SELECT s.member_id, s.session_start_ts, s.session_end_ts, c.day,
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
), touched AS (
    SELECT DISTINCT day, member_id
    FROM candidates
    WHERE session_start_ts >= lo - make_interval(hours => %(max_session_hours)s)
      AND session_start_ts < hi
      AND (session_end_ts > lo OR session_start_ts >= lo)
)
SELECT r.activity_date, r.member_id, (m.member_id IS NULL) AS member_missing
FROM pwr_agg.member_voice_daily AS r
LEFT JOIN pwr_core.members AS m USING (member_id)
LEFT JOIN touched AS t ON t.day = r.activity_date AND t.member_id = r.member_id
WHERE r.activity_date >= %(start_date)s::date AND r.activity_date < %(end_date)s::date
  AND (m.member_id IS NULL OR t.member_id IS NULL)
ORDER BY r.activity_date, r.member_id;
