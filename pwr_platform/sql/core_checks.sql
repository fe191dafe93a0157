-- Asset checks of the core layer: the acceptance criteria of ARCHITECTURE.md "Table semantics",
-- each a query counting the rows that break one rule (0 = pass).

-- name: raw_users_missing_from_members
-- Every user in a raw voice event or member record the members transform has read (its last
-- run's snapshot, pwr_core.transform_read_snapshot) is a member. Rows committed after that run
-- are the next run's: counting them failed this check whenever a new member's first event landed
-- between the members step and the check. The loose index scan lists the users cheaply; only a
-- user missing from members is looked up again for a row the run could see.
WITH RECURSIVE voice_users AS (
    (SELECT discord_user_id FROM pwr_raw.discord_voice_events ORDER BY discord_user_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.discord_user_id FROM pwr_raw.discord_voice_events e
             WHERE e.discord_user_id > u.discord_user_id ORDER BY e.discord_user_id LIMIT 1)
    FROM voice_users u WHERE u.discord_user_id IS NOT NULL
), read_by_members AS (
    SELECT pwr_core.transform_read_snapshot('members') AS snap
)
SELECT count(*) FROM (
    SELECT discord_user_id FROM voice_users WHERE discord_user_id IS NOT NULL
    UNION SELECT discord_user_id FROM pwr_raw.discord_member_events
) u, read_by_members r
WHERE NOT EXISTS (SELECT 1 FROM pwr_core.members m WHERE m.discord_user_id = u.discord_user_id)
  AND (EXISTS (SELECT 1 FROM pwr_raw.discord_voice_events e
               WHERE e.discord_user_id = u.discord_user_id AND pg_visible_in_snapshot(e.ingest_xid, r.snap))
       OR EXISTS (SELECT 1 FROM pwr_raw.discord_member_events e
                  WHERE e.discord_user_id = u.discord_user_id AND pg_visible_in_snapshot(e.ingest_xid, r.snap)));

-- name: overlapping_sessions
-- No member has two sessions in a guild with a positive overlap (intervals are half-open; an
-- open session reaches to infinity).
SELECT count(*) FROM (
    SELECT session_start_ts, coalesce(session_end_ts, 'infinity') AS end_ts,
           max(coalesce(session_end_ts, 'infinity')) FILTER (WHERE coalesce(session_end_ts, 'infinity') > session_start_ts)
               OVER (PARTITION BY member_id, discord_guild_id ORDER BY session_start_ts, session_end_ts NULLS LAST, session_id
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach_of_earlier
    FROM pwr_core.voice_sessions
) s
WHERE end_ts > session_start_ts AND reach_of_earlier > session_start_ts;

-- name: bad_durations
-- Completed sessions: duration_seconds = round(end − start), 0 <= it, end − start <= the cap;
-- open sessions have no end and no duration.
SELECT count(*) FROM pwr_core.voice_sessions
WHERE (session_end_ts IS NOT NULL AND (
          duration_seconds IS DISTINCT FROM round(extract(epoch FROM session_end_ts - session_start_ts))::int
          OR duration_seconds < 0
          OR session_end_ts - session_start_ts > make_interval(hours => %(max_session_hours)s)
          OR NOT is_completed))
   OR (session_end_ts IS NULL AND (duration_seconds IS NOT NULL OR is_completed));

-- name: stale_open_sessions
-- No session is still open although its guild's newest event, among those the sessionizer has
-- read (its last run's snapshot), is past start + cap: an event committed after that run closes
-- the session in the next run, not in this one.
SELECT count(*) FROM pwr_core.voice_sessions s
WHERE s.session_end_ts IS NULL
  AND s.session_start_ts + make_interval(hours => %(max_session_hours)s)
      < (SELECT max(e.event_ts) FROM pwr_raw.discord_voice_events e
         WHERE e.discord_guild_id = s.discord_guild_id
           AND pg_visible_in_snapshot(e.ingest_xid, pwr_core.transform_read_snapshot('voice_sessions')));

-- name: completed_event_ids
SELECT event_id FROM pwr_core.events WHERE status = 'completed' ORDER BY event_id;

-- name: attendance_beyond_window
-- Attendance seconds fit the window: each of the n session pieces inside it is rounded on its
-- own, so the sum is at most window seconds + n/2.
SELECT count(*) FROM (
    SELECT a.event_id, a.member_id, a.total_voice_seconds,
           extract(epoch FROM w.window_end_ts - w.window_start_ts) AS window_seconds,
           (SELECT count(*) FROM pwr_core.event_channels ec
              JOIN pwr_core.voice_sessions s ON s.discord_channel_id = ec.discord_channel_id
             WHERE ec.event_id = a.event_id AND s.member_id = a.member_id
               AND s.session_start_ts < w.window_end_ts
               AND coalesce(s.session_end_ts, w.window_end_ts) > w.window_start_ts) AS pieces
    FROM pwr_core.event_attendance a
    JOIN pwr_core.event_windows w USING (event_id)
) x
WHERE total_voice_seconds < 0 OR total_voice_seconds > floor(window_seconds + pieces / 2.0);
