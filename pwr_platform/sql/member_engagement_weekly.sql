-- pwr_agg.member_engagement_weekly — ARCHITECTURE.md "Table semantics: member_engagement_weekly".
-- Per (ISO week starting Monday, member) with voice or events, for the weeks in
-- [%(start_date)s, %(end_date)s) (Monday-aligned, PWR_TIMEZONE = %(tz)s):
--   total_voice_seconds  = sum of the week's member_voice_daily rows (summed per day first, then
--                          per week: cheaper than one wide group);
--   events_attended      = attendance rows of completed events whose window starts in the week;
--   distinct_event_types = distinct event_type among those events (events without a type are not a type).
-- Event window start: actual_start_ts when both actual times are set, else scheduled_start_ts
-- (ARCHITECTURE.md "event_attendance"). The window of weeks is replaced as a unit.

DELETE FROM pwr_agg.member_engagement_weekly
WHERE week_start_date >= %(start_date)s::date
  AND week_start_date < %(end_date)s::date;

-- The summary (rows written and their totals) comes from the INSERT's own RETURNING rows: no
-- second scan of the window.
WITH written AS (
INSERT INTO pwr_agg.member_engagement_weekly
    (week_start_date, member_id, total_voice_seconds, events_attended, distinct_event_types)
WITH voice AS (
    SELECT date_trunc('week', activity_date)::date AS week_start_date,
           member_id,
           sum(total_voice_seconds)                AS total_voice_seconds
    FROM pwr_agg.member_voice_daily
    WHERE activity_date >= %(start_date)s::date AND activity_date < %(end_date)s::date
    GROUP BY 1, 2
), event_windows AS (
    SELECT e.event_id, e.event_type,
           CASE WHEN e.actual_start_ts IS NOT NULL AND e.actual_end_ts IS NOT NULL
                THEN e.actual_start_ts ELSE e.scheduled_start_ts END AS window_start_ts
    FROM pwr_core.events AS e
    WHERE e.status = 'completed'
), attended AS (
    SELECT date_trunc('week', w.window_start_ts AT TIME ZONE %(tz)s)::date AS week_start_date,
           a.member_id,
           count(*)                     AS events_attended,
           count(DISTINCT w.event_type) AS distinct_event_types
    FROM pwr_core.event_attendance AS a
    JOIN event_windows AS w USING (event_id)
    WHERE w.window_start_ts >= %(start_date)s::date::timestamp AT TIME ZONE %(tz)s
      AND w.window_start_ts < %(end_date)s::date::timestamp AT TIME ZONE %(tz)s
    GROUP BY 1, 2
)
SELECT week_start_date,
       member_id,
       coalesce(v.total_voice_seconds, 0)::bigint,
       coalesce(a.events_attended, 0),
       coalesce(a.distinct_event_types, 0)
FROM voice AS v
FULL JOIN attended AS a USING (week_start_date, member_id)
RETURNING total_voice_seconds, events_attended
)
SELECT count(*) AS rows_written,
       coalesce(sum(total_voice_seconds), 0)::bigint AS voice_seconds,
       coalesce(sum(events_attended), 0)::bigint     AS events_attended
FROM written;
