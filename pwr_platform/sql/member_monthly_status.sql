-- pwr_agg.member_monthly_status — ARCHITECTURE.md "Table semantics: member_monthly_status" and
-- "Intervals and ties".
-- For each month M = [first day 00:00, next month's first day 00:00) in PWR_TIMEZONE (%(tz)s)
-- in [%(start_date)s, %(end_date)s), a row for every member who had joined by M's end
-- (coalesce(join_date, first_seen_ts) < end of M) and had not left before its start
-- (leave_date IS NULL or leave_date >= start of M);
--   was_active = a voice session with a positive overlap with M (an open session counts up to
--                now: its end is open) OR an attended event whose window starts in M.
-- Inactive members get a FALSE row: that is what retention is made of. Months are replaced as a unit.
-- Sessions are capped at PWR_MAX_SESSION_HOURS (%(max_session_hours)s): those overlapping M start in
-- [start of M - cap, end of M).

DELETE FROM pwr_agg.member_monthly_status
WHERE month_start_date >= %(start_date)s::date
  AND month_start_date < %(end_date)s::date;

-- The summary (rows written and their totals) comes from the INSERT's own RETURNING rows: no
-- second scan of the window.
WITH written AS (
INSERT INTO pwr_agg.member_monthly_status (month_start_date, member_id, was_active)
WITH months AS (
    SELECT m::date                                                   AS month_start_date,
           m AT TIME ZONE %(tz)s                                      AS lo,
           (m + interval '1 month') AT TIME ZONE %(tz)s               AS hi
    FROM generate_series(%(start_date)s::date::timestamp,
                         %(end_date)s::date::timestamp - interval '1 month',
                         interval '1 month') AS m
), eligible AS (
    SELECT mo.month_start_date, mb.member_id
    FROM months AS mo
    JOIN pwr_core.members AS mb
      ON coalesce(mb.join_date, mb.first_seen_ts) < mo.hi
     AND (mb.leave_date IS NULL OR mb.leave_date >= mo.lo)
), active_in_voice AS (
    SELECT DISTINCT mo.month_start_date, s.member_id
    FROM months AS mo
    JOIN pwr_core.voice_sessions AS s
      ON s.session_start_ts >= mo.lo - make_interval(hours => %(max_session_hours)s)
     AND s.session_start_ts < mo.hi
     AND least(coalesce(s.session_end_ts, 'infinity'), mo.hi) > greatest(s.session_start_ts, mo.lo)
), active_at_events AS (
    SELECT DISTINCT mo.month_start_date, a.member_id
    FROM pwr_core.event_attendance AS a
    JOIN pwr_core.events AS e USING (event_id)
    JOIN months AS mo
      ON CASE WHEN e.actual_start_ts IS NOT NULL AND e.actual_end_ts IS NOT NULL
              THEN e.actual_start_ts ELSE e.scheduled_start_ts END >= mo.lo
     AND CASE WHEN e.actual_start_ts IS NOT NULL AND e.actual_end_ts IS NOT NULL
              THEN e.actual_start_ts ELSE e.scheduled_start_ts END < mo.hi
    WHERE e.status = 'completed'
)
SELECT el.month_start_date,
       el.member_id,
       (v.member_id IS NOT NULL OR ev.member_id IS NOT NULL) AS was_active
FROM eligible AS el
LEFT JOIN active_in_voice  AS v  USING (month_start_date, member_id)
LEFT JOIN active_at_events AS ev USING (month_start_date, member_id)
RETURNING was_active
)
SELECT count(*) AS rows_written,
       count(*) FILTER (WHERE was_active) AS active_rows
FROM written;
