-- What the bot's commands read (README "Discord commands"), through a read-only connection.
-- /stats and /leaderboard read the aggregates (pwr_agg) and completed events' attendance
-- (pwr_core), never raw events, so they answer in milliseconds whatever the history's size.
-- "today" is the reporting day in PWR_TIMEZONE, passed by the bot (%(today)s).

-- name: event_states
-- Every event of the guild the /event commands may name: as pwr_core.events holds it, with the
-- /event commands not yet folded in (view pwr_core.bot_event_state, migration 0012).
SELECT external_event_id, name, event_type, status, scheduled_start_ts, started_ts, ended_ts, channel_ids
FROM pwr_core.bot_event_state
WHERE discord_guild_id = %(guild_id)s
  AND (status IN ('scheduled', 'active') OR coalesce(ended_ts, scheduled_start_ts) >= now() - interval '2 days')
ORDER BY scheduled_start_ts, external_event_id;

-- name: member_stats
-- One member: voice seconds over the 28 days ending today and all time, rank by the 28 days among
-- members with any voice in them (1 = most), events attended and the share joined on time, and
-- the trend label of pwr_agg.member_trend.
WITH recent AS (
    SELECT member_id, sum(total_voice_seconds) AS seconds
    FROM pwr_agg.member_voice_daily
    WHERE activity_date > %(today)s::date - 28 AND activity_date <= %(today)s::date
    GROUP BY member_id
),
ranked AS (
    SELECT member_id, seconds, rank() OVER (ORDER BY seconds DESC) AS rank, count(*) OVER () AS ranked_members
    FROM recent WHERE seconds > 0
),
m AS (SELECT member_id, coalesce(display_name, username) AS name FROM pwr_core.members WHERE discord_user_id = %(user_id)s)
SELECT m.name,
       coalesce((SELECT seconds FROM recent r WHERE r.member_id = m.member_id), 0)::bigint AS recent_seconds,
       coalesce((SELECT sum(total_voice_seconds) FROM pwr_agg.member_engagement_weekly w
                 WHERE w.member_id = m.member_id), 0)::bigint AS all_time_seconds,
       (SELECT rank FROM ranked r WHERE r.member_id = m.member_id) AS rank,
       (SELECT count(*) FROM ranked) AS ranked_members,
       (SELECT count(*) FROM pwr_core.event_attendance a WHERE a.member_id = m.member_id) AS events_attended,
       (SELECT avg(a.joined_on_time::int) FROM pwr_core.event_attendance a WHERE a.member_id = m.member_id)
           AS on_time_share,
       (SELECT t.trend_label FROM pwr_agg.member_trend t WHERE t.member_id = m.member_id) AS trend
FROM m;

-- name: leaderboard_voice
-- Top 10 members by voice seconds since %(since)s (NULL: all time) up to today.
SELECT coalesce(m.display_name, m.username, m.discord_user_id::text) AS name, v.seconds
FROM (
    SELECT member_id, sum(total_voice_seconds) AS seconds
    FROM pwr_agg.member_voice_daily
    WHERE %(since)s::date IS NOT NULL AND activity_date >= %(since)s::date AND activity_date <= %(today)s::date
    GROUP BY member_id
    UNION ALL
    SELECT member_id, sum(total_voice_seconds)
    FROM pwr_agg.member_engagement_weekly
    WHERE %(since)s::date IS NULL
    GROUP BY member_id
) v
JOIN pwr_core.members m USING (member_id)
WHERE v.seconds > 0
ORDER BY v.seconds DESC, name
LIMIT 10;

-- name: leaderboard_events
-- Top 10 members by completed events attended whose window starts on or after %(since)s (NULL:
-- all time) up to today.
SELECT coalesce(m.display_name, m.username, m.discord_user_id::text) AS name, a.events
FROM (
    SELECT a.member_id, count(*) AS events
    FROM pwr_core.event_attendance a
    JOIN pwr_core.event_windows w USING (event_id)
    WHERE %(since)s::date IS NULL
       OR (w.window_start_ts >= %(since_ts)s AND w.window_start_ts < %(until_ts)s)
    GROUP BY a.member_id
) a
JOIN pwr_core.members m USING (member_id)
ORDER BY a.events DESC, name
LIMIT 10;
