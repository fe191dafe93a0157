-- pwr_core.event_attendance — ARCHITECTURE.md "Table semantics", pwr_core.event_attendance.
--
-- For each completed event in %(event_ids)s (one Dagster partition per event; a backfill or
-- `pwr materialize` replaces many partitions in one run):
--   window          [actual_start_ts, actual_end_ts) when both are set, else the scheduled times
--                   (view pwr_core.event_windows).
--   attended        any of the member's sessions in one of the event's channels (and guild, when
--                   the event has one) has a positive overlap with the window; an open session
--                   counts as lasting to the window end.
--   first_join_ts   earliest start of those sessions; last_leave_ts latest end (the window end
--                   if still open) — the sessions' own times, not clipped.
--   total_voice_seconds  the seconds of those sessions inside the window, each piece rounded
--                   to whole seconds before the sum.
--   joined_on_time  first_join_ts <= scheduled_start_ts + PWR_ON_TIME_GRACE_MINUTES.
-- Sessions are capped at PWR_MAX_SESSION_HOURS, so the ones reaching the window start in
-- [window start - cap, window end): the (start, channel) index finds them, and checks the
-- channel inside the index.
-- The partition is replaced whole (delete, insert) in one transaction, so re-running it gives
-- the same rows. Events not (or no longer) completed get no rows.

-- name: delete_partition
DELETE FROM pwr_core.event_attendance WHERE event_id = ANY (%(event_ids)s);

-- name: insert_partition
WITH ev AS (
    SELECT e.event_id, e.discord_guild_id, e.scheduled_start_ts, w.window_start_ts, w.window_end_ts
    FROM pwr_core.events e JOIN pwr_core.event_windows w USING (event_id)
    WHERE e.event_id = ANY (%(event_ids)s) AND e.status = 'completed'
      AND w.window_end_ts > w.window_start_ts
),
pieces AS (
    SELECT s.member_id, s.session_start_ts,
           coalesce(s.session_end_ts, ev.window_end_ts) AS session_end_or_window_end,
           round(extract(epoch FROM least(coalesce(s.session_end_ts, ev.window_end_ts), ev.window_end_ts)
                                  - greatest(s.session_start_ts, ev.window_start_ts)))::int AS seconds_inside,
           ev.event_id, ev.scheduled_start_ts
    FROM ev
    JOIN pwr_core.event_channels ec ON ec.event_id = ev.event_id
    JOIN pwr_core.voice_sessions s
      ON s.discord_channel_id = ec.discord_channel_id
     AND s.session_start_ts >= ev.window_start_ts - make_interval(hours => %(max_session_hours)s)
     AND s.session_start_ts < ev.window_end_ts
     AND coalesce(s.session_end_ts, ev.window_end_ts) > ev.window_start_ts
     AND (ev.discord_guild_id IS NULL OR s.discord_guild_id = ev.discord_guild_id)
)
INSERT INTO pwr_core.event_attendance (event_id, member_id, first_join_ts, last_leave_ts, total_voice_seconds,
                                       joined_on_time)
SELECT event_id, member_id, min(session_start_ts), max(session_end_or_window_end), sum(seconds_inside),
       min(session_start_ts) <= min(scheduled_start_ts) + make_interval(mins => %(on_time_grace_minutes)s)
FROM pieces
GROUP BY event_id, member_id;
