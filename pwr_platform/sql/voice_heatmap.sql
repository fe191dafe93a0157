-- pwr_agg.voice_heatmap_hourly (behind the view pwr_agg.voice_heatmap) — the dashboards' voice
-- heatmap: hour of day × ISO weekday in PWR_TIMEZONE, total voice hours (issue "Dashboard views").
-- Same rules as member_voice_daily ("Intervals and ties"): completed sessions only, each session
-- split at every local hour boundary, each piece rounded to the nearest whole second before the
-- sum. Hours are stepped in absolute time from the local hour the session starts in, so the
-- hour repeated when DST ends counts twice and the skipped one never appears.
-- Window: local days [%(start_date)s, %(end_date)s), replaced as a unit (delete + insert).

DELETE FROM pwr_agg.voice_heatmap_hourly
WHERE activity_date >= %(start_date)s::date
  AND activity_date < %(end_date)s::date;

-- The summary (rows written and their totals) comes from the INSERT's own RETURNING rows: no
-- second scan of the window.
WITH written AS (
INSERT INTO pwr_agg.voice_heatmap_hourly (activity_date, hour_of_day, voice_seconds)
WITH win AS (
    SELECT %(start_date)s::date::timestamp AT TIME ZONE %(tz)s AS lo,
           %(end_date)s::date::timestamp AT TIME ZONE %(tz)s   AS hi
), touching AS (
    SELECT greatest(s.session_start_ts, win.lo) AS clip_start,
           least(s.session_end_ts, win.hi)      AS clip_end,
           s.session_start_ts, s.session_end_ts
    FROM pwr_core.voice_sessions AS s, win
    WHERE s.is_completed
      AND s.session_start_ts >= win.lo - make_interval(hours => %(max_session_hours)s)
      AND s.session_start_ts < win.hi
      AND s.session_end_ts > win.lo
      AND s.session_end_ts > s.session_start_ts
), pieces AS (
    SELECT h AS hour_start,
           greatest(t.session_start_ts, h)                  AS piece_start,
           least(t.session_end_ts, h + interval '1 hour')   AS piece_end
    FROM touching AS t
    -- first local hour start = clip_start minus the local time past the hour (not a round trip
    -- through local time, which is ambiguous in the repeated hour)
    CROSS JOIN LATERAL generate_series(
        t.clip_start - ((t.clip_start AT TIME ZONE %(tz)s) - date_trunc('hour', t.clip_start AT TIME ZONE %(tz)s)),
        t.clip_end - interval '1 microsecond',
        interval '1 hour') AS h
)
SELECT (hour_start AT TIME ZONE %(tz)s)::date                     AS activity_date,
       extract(hour FROM hour_start AT TIME ZONE %(tz)s)::smallint AS hour_of_day,
       sum(round(extract(epoch FROM piece_end - piece_start)))::bigint AS voice_seconds
FROM pieces
WHERE piece_end > piece_start
GROUP BY 1, 2
RETURNING voice_seconds
)
SELECT count(*) AS rows_written, coalesce(sum(voice_seconds), 0)::bigint AS voice_seconds
FROM written;
