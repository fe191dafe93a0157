-- pwr_core.members — ARCHITECTURE.md "Table semantics", pwr_core.members.
--
-- One row per Discord user seen in a stored raw voice event, a collector member record
-- (pwr_raw.discord_member_events) or as an event host (Discord scheduled-event creator, or the
-- host of an imported event). Users seen only in rejected lines are not members.
--   first_seen_ts / last_seen_ts  earliest / latest raw voice event or member record;
--                                 a user known only as a host: the earliest scheduled start of
--                                 the events they host (first and last).
--   username / display_name       the newest non-empty one from voice payloads or member
--                                 records (newest by event time; ties: member record, then id).
--   join_date                     Discord's joined_at from the newest member record that has
--                                 one, else first_seen_ts.
--   leave_date / is_active        the time of the member's latest membership record (join,
--                                 leave, snapshot) when that record is a 'leave', else NULL;
--                                 is_active = leave_date IS NULL (a rejoin makes them active).
-- Every value is recomputed from raw for the users in _member_users, so an incremental run gives
-- what a rebuild gives. Python (pwr_platform/transforms/members.py) chooses the users: those with
-- raw rows committed since the previous run's snapshot (%(prev)s), or everybody.

-- name: new_member_users
INSERT INTO _member_users (discord_user_id)
SELECT discord_user_id FROM pwr_raw.discord_voice_events_since(%(prev)s::pg_snapshot)
UNION
SELECT discord_user_id FROM pwr_raw.discord_member_events_since(%(prev)s::pg_snapshot)
UNION
SELECT creator_discord_user_id FROM pwr_raw.discord_scheduled_events_since(%(prev)s::pg_snapshot)
 WHERE creator_discord_user_id IS NOT NULL
UNION
SELECT host_discord_user_id FROM pwr_raw.manual_events_since(%(prev)s::pg_snapshot)
 WHERE host_discord_user_id IS NOT NULL;

-- name: all_member_users
-- Distinct voice users by skipping through the (discord_user_id, event_ts) index, plus the
-- (small) member-record and event-host tables.
WITH RECURSIVE voice_users AS (
    (SELECT discord_user_id FROM pwr_raw.discord_voice_events ORDER BY discord_user_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.discord_user_id FROM pwr_raw.discord_voice_events e
             WHERE e.discord_user_id > u.discord_user_id ORDER BY e.discord_user_id LIMIT 1)
    FROM voice_users u WHERE u.discord_user_id IS NOT NULL
)
INSERT INTO _member_users (discord_user_id)
SELECT discord_user_id FROM voice_users WHERE discord_user_id IS NOT NULL
UNION SELECT discord_user_id FROM pwr_raw.discord_member_events
UNION SELECT creator_discord_user_id FROM pwr_raw.discord_scheduled_events WHERE creator_discord_user_id IS NOT NULL
UNION SELECT host_discord_user_id FROM pwr_raw.manual_events WHERE host_discord_user_id IS NOT NULL;

-- name: upsert_members
WITH hosted AS (
    -- each Discord scheduled event's latest observed start, and each imported event's start
    SELECT creator_discord_user_id AS discord_user_id, scheduled_start_ts
    FROM (SELECT DISTINCT ON (discord_guild_id, discord_event_id) creator_discord_user_id, scheduled_start_ts
          FROM pwr_raw.discord_scheduled_events
          WHERE creator_discord_user_id IN (SELECT discord_user_id FROM _member_users)
          ORDER BY discord_guild_id, discord_event_id, observed_ts DESC, id DESC) latest
    UNION ALL
    SELECT host_discord_user_id, scheduled_start_ts FROM pwr_raw.manual_events
    WHERE host_discord_user_id IN (SELECT discord_user_id FROM _member_users)
),
computed AS (
    SELECT u.discord_user_id,
           coalesce(least(v.first_ts, r.first_ts), h.first_ts)           AS first_seen_ts,
           coalesce(greatest(v.last_ts, r.last_ts), h.first_ts)          AS last_seen_ts,
           un.name AS username, dn.name AS display_name,
           j.joined_at, lv.leave_ts
    FROM _member_users u
    LEFT JOIN LATERAL (SELECT min(event_ts) AS first_ts, max(event_ts) AS last_ts
                       FROM pwr_raw.discord_voice_events WHERE discord_user_id = u.discord_user_id) v ON TRUE
    LEFT JOIN LATERAL (SELECT min(event_ts) AS first_ts, max(event_ts) AS last_ts
                       FROM pwr_raw.discord_member_events WHERE discord_user_id = u.discord_user_id) r ON TRUE
    LEFT JOIN LATERAL (SELECT min(scheduled_start_ts) AS first_ts
                       FROM hosted WHERE hosted.discord_user_id = u.discord_user_id) h ON TRUE
    LEFT JOIN LATERAL (
        SELECT name FROM (
            (SELECT nullif(btrim(raw_payload ->> 'username'), '') AS name, event_ts, 0 AS source_rank, id
             FROM pwr_raw.discord_voice_events
             WHERE discord_user_id = u.discord_user_id AND nullif(btrim(raw_payload ->> 'username'), '') IS NOT NULL
             ORDER BY event_ts DESC, id DESC LIMIT 1)
            UNION ALL
            (SELECT nullif(btrim(username), ''), event_ts, 1, id
             FROM pwr_raw.discord_member_events
             WHERE discord_user_id = u.discord_user_id AND nullif(btrim(username), '') IS NOT NULL
             ORDER BY event_ts DESC, id DESC LIMIT 1)
        ) c ORDER BY event_ts DESC, source_rank DESC, id DESC LIMIT 1
    ) un ON TRUE
    LEFT JOIN LATERAL (
        SELECT name FROM (
            (SELECT nullif(btrim(raw_payload ->> 'display_name'), '') AS name, event_ts, 0 AS source_rank, id
             FROM pwr_raw.discord_voice_events
             WHERE discord_user_id = u.discord_user_id AND nullif(btrim(raw_payload ->> 'display_name'), '') IS NOT NULL
             ORDER BY event_ts DESC, id DESC LIMIT 1)
            UNION ALL
            (SELECT nullif(btrim(display_name), ''), event_ts, 1, id
             FROM pwr_raw.discord_member_events
             WHERE discord_user_id = u.discord_user_id AND nullif(btrim(display_name), '') IS NOT NULL
             ORDER BY event_ts DESC, id DESC LIMIT 1)
        ) c ORDER BY event_ts DESC, source_rank DESC, id DESC LIMIT 1
    ) dn ON TRUE
    LEFT JOIN LATERAL (SELECT joined_at FROM pwr_raw.discord_member_events
                       WHERE discord_user_id = u.discord_user_id AND joined_at IS NOT NULL
                       ORDER BY event_ts DESC, id DESC LIMIT 1) j ON TRUE
    LEFT JOIN LATERAL (SELECT CASE WHEN event_type = 'leave' THEN event_ts END AS leave_ts
                       FROM pwr_raw.discord_member_events
                       WHERE discord_user_id = u.discord_user_id AND event_type IN ('join', 'leave', 'snapshot')
                       ORDER BY event_ts DESC, CASE event_type WHEN 'leave' THEN 0 ELSE 1 END DESC, id DESC
                       LIMIT 1) lv ON TRUE
    WHERE coalesce(v.first_ts, r.first_ts, h.first_ts) IS NOT NULL
)
INSERT INTO pwr_core.members AS m (discord_user_id, first_seen_ts, last_seen_ts, is_active, display_name,
                                   username, join_date, leave_date)
SELECT discord_user_id, first_seen_ts, last_seen_ts, leave_ts IS NULL, display_name, username,
       coalesce(joined_at, first_seen_ts), leave_ts
FROM computed
ON CONFLICT (discord_user_id) DO UPDATE
SET first_seen_ts = excluded.first_seen_ts, last_seen_ts = excluded.last_seen_ts,
    is_active = excluded.is_active, display_name = excluded.display_name, username = excluded.username,
    join_date = excluded.join_date, leave_date = excluded.leave_date
WHERE (m.first_seen_ts, m.last_seen_ts, m.is_active, m.display_name, m.username, m.join_date, m.leave_date)
      IS DISTINCT FROM
      (excluded.first_seen_ts, excluded.last_seen_ts, excluded.is_active, excluded.display_name,
       excluded.username, excluded.join_date, excluded.leave_date);
