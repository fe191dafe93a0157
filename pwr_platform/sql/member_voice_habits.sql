-- pwr_agg.member_voice_habits — issue 12 item 4: a member's favourite channels and hours.
-- Per member, ISO week (Monday, PWR_TIMEZONE), channel and local hour of day: completed sessions
-- (ARCHITECTURE.md "voice_sessions") that STARTED there, and their stored (whole-second)
-- durations. A session counts entirely in the hour and week it started in: this table says where
-- and when a member comes to voice, not how the seconds fall across the clock (member_voice_daily
-- and the heatmap split sessions at day / hour boundaries). Rebuilt wholesale.

DELETE FROM pwr_agg.member_voice_habits;

INSERT INTO pwr_agg.member_voice_habits
    (member_id, week_start_date, discord_channel_id, hour_of_day, sessions, voice_seconds)
SELECT member_id,
       date_trunc('week', session_start_ts AT TIME ZONE %(tz)s)::date,
       discord_channel_id,
       extract(hour FROM session_start_ts AT TIME ZONE %(tz)s)::smallint,
       count(*),
       sum(duration_seconds)
FROM pwr_core.voice_sessions
WHERE is_completed
GROUP BY 1, 2, 3, 4;

SELECT count(*) AS rows_written, coalesce(sum(sessions), 0) AS sessions FROM pwr_agg.member_voice_habits;
