-- The weekly digest (README "Discord setup", issue 14): a short summary of one finished ISO week
-- posted to Discord. %(week)s is the week's Monday; the week is [%(week_start_ts)s,
-- %(week_end_ts)s) in PWR_TIMEZONE (the bot passes the instants). Read from the aggregates and
-- completed events' attendance only.
--   voice hours / active members: pwr_agg.member_engagement_weekly of the week and the week
--     before (a member is active in a week when they have a row: voice or an attended event);
--   top members: the 3 with the most voice seconds in the week (ties: name);
--   best event: the completed event whose attendance window starts in the week with the most
--     attendees (ties: earlier start, then lower event id);
--   new members: members whose join_date falls in the week (Discord's joined_at, else first seen).

-- name: totals
SELECT w.week_start_date, coalesce(sum(w.total_voice_seconds), 0)::bigint AS voice_seconds,
       count(*) AS active_members
FROM pwr_agg.member_engagement_weekly w
WHERE w.week_start_date IN (%(week)s::date, %(week)s::date - 7)
GROUP BY w.week_start_date;

-- name: top_members
SELECT coalesce(m.display_name, m.username, m.discord_user_id::text) AS name, w.total_voice_seconds
FROM pwr_agg.member_engagement_weekly w
JOIN pwr_core.members m USING (member_id)
WHERE w.week_start_date = %(week)s::date AND w.total_voice_seconds > 0
ORDER BY w.total_voice_seconds DESC, name
LIMIT 3;

-- name: best_event
SELECT e.name, w.window_start_ts, count(a.member_id) AS attendees
FROM pwr_core.events e
JOIN pwr_core.event_windows w USING (event_id)
JOIN pwr_core.event_attendance a USING (event_id)
WHERE e.status = 'completed'
  AND w.window_start_ts >= %(week_start_ts)s AND w.window_start_ts < %(week_end_ts)s
GROUP BY e.event_id, e.name, w.window_start_ts
ORDER BY attendees DESC, w.window_start_ts, e.event_id
LIMIT 1;

-- name: new_members
SELECT coalesce(display_name, username, discord_user_id::text) AS name
FROM pwr_core.members
WHERE join_date >= %(week_start_ts)s AND join_date < %(week_end_ts)s
ORDER BY join_date, member_id;
