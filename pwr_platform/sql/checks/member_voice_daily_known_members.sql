-- Acceptance check: no member_voice_daily row for an unknown member. A row's member must exist in
-- pwr_core.members AND have a completed session touching that day (started on it, or a positive
-- overlap): a row left over after a session rebuild, for a member with no voice that day, is as
-- unknown to the sources as a deleted member. Window [%(start_date)s, %(end_date)s). Empty = pass.
WITH touched AS (
    SELECT DISTINCT d::date AS day, s.member_id
    FROM generate_series(%(start_date)s::date::timestamp, %(end_date)s::date::timestamp - interval '1 day',
                         interval '1 day') AS d
    JOIN pwr_core.voice_sessions AS s
      ON s.is_completed
     AND s.session_start_ts >= (d AT TIME ZONE %(tz)s) - make_interval(hours => %(max_session_hours)s)
     AND s.session_start_ts < (d + interval '1 day') AT TIME ZONE %(tz)s
     AND (s.session_end_ts > d AT TIME ZONE %(tz)s OR s.session_start_ts >= d AT TIME ZONE %(tz)s)
)
SELECT r.activity_date, r.member_id, (m.member_id IS NULL) AS member_missing
FROM pwr_agg.member_voice_daily AS r
LEFT JOIN pwr_core.members AS m USING (member_id)
LEFT JOIN touched AS t ON t.day = r.activity_date AND t.member_id = r.member_id
WHERE r.activity_date >= %(start_date)s::date AND r.activity_date < %(end_date)s::date
  AND (m.member_id IS NULL OR t.member_id IS NULL)
ORDER BY r.activity_date, r.member_id;
