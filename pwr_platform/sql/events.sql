-- pwr_core.events and pwr_core.event_channels — ARCHITECTURE.md "Table semantics", pwr_core.events.
--
-- Keyed by external_event_id, derived from two raw sources:
--   * Discord scheduled events (pwr_raw.discord_scheduled_events, every observed state):
--     external_event_id 'discord:<id>'; name, description, type, scheduled times, channel,
--     creator (→ host member) and status from the latest observation (at one instant the later
--     status wins: scheduled < active < completed < cancelled); actual_start_ts = first time
--     seen 'active' (SCHEDULED→ACTIVE), actual_end_ts = first time seen 'completed'.
--   * events run without Discord's feature (pwr_raw.manual_events, `pwr events import`): as
--     last imported — re-importing updates by external_event_id.
--   * events started by an organizer's `/event start` in Discord (pwr_raw.discord_event_commands)
--     for no known event: external_event_id 'bot:<interaction id>', named, typed and in the
--     channels the command gave; scheduled start = actual start = the command's time; host = the
--     organizer.
-- Commands on any event: the first `/event start` is its actual start (it wins over Discord's own
-- ACTIVE time: the organizer said when it began) and makes a scheduled event 'active'; the first
-- `/event end` is its actual end and completes it. The event runs in its own channels and the
-- ones its start command added (a scrim's second team channel: Discord's event has one channel).
-- An end stamped by hand (pwr_raw.event_completions, `pwr events complete`) wins over the
-- source's actual end and over `/event end`, and makes the event 'completed'.
-- changed_xid (+) is stamped whenever something attendance depends on changes (status, times,
-- guild, channels); the attendance sensor watches it. Python: pwr_platform/transforms/events.py.

-- name: event_sources
INSERT INTO _event_sources
WITH discord_latest AS (
    SELECT DISTINCT ON (discord_guild_id, discord_event_id) *
    FROM pwr_raw.discord_scheduled_events
    ORDER BY discord_guild_id, discord_event_id, observed_ts DESC,
             CASE status WHEN 'scheduled' THEN 0 WHEN 'active' THEN 1 WHEN 'completed' THEN 2 ELSE 3 END DESC,
             id DESC
),
discord_transitions AS (
    SELECT discord_guild_id, discord_event_id,
           min(observed_ts) FILTER (WHERE status = 'active')    AS actual_start_ts,
           min(observed_ts) FILTER (WHERE status = 'completed') AS actual_end_ts
    FROM pwr_raw.discord_scheduled_events
    GROUP BY discord_guild_id, discord_event_id
),
sources AS (
    SELECT 'discord:' || l.discord_event_id AS external_event_id, l.name, l.description, l.event_type,
           l.scheduled_start_ts, l.scheduled_end_ts, t.actual_start_ts, t.actual_end_ts,
           l.creator_discord_user_id AS host_discord_user_id,
           CASE WHEN l.discord_channel_id IS NULL THEN '{}'::bigint[] ELSE ARRAY[l.discord_channel_id] END AS channel_ids,
           l.status, l.discord_guild_id
    FROM discord_latest l
    JOIN discord_transitions t USING (discord_guild_id, discord_event_id)
    UNION ALL
    SELECT external_event_id, name, description, event_type, scheduled_start_ts, scheduled_end_ts,
           actual_start_ts, actual_end_ts, host_discord_user_id, channel_ids, status, discord_guild_id
    FROM pwr_raw.manual_events
),
commands AS (
    SELECT DISTINCT ON (external_event_id) external_event_id, discord_guild_id, name, event_type,
           channel_ids, organizer_discord_user_id,
           recorded_ts AS command_start_ts
    FROM pwr_raw.discord_event_commands
    WHERE action = 'start'
    ORDER BY external_event_id, recorded_ts, id
),
command_ends AS (
    SELECT external_event_id, min(recorded_ts) AS command_end_ts
    FROM pwr_raw.discord_event_commands
    WHERE action = 'end'
    GROUP BY external_event_id
),
all_sources AS (
    SELECT * FROM sources
    UNION ALL
    SELECT k.external_event_id, coalesce(k.name, 'Event ' || k.external_event_id), NULL, k.event_type,
           k.command_start_ts, NULL, k.command_start_ts, NULL, k.organizer_discord_user_id, k.channel_ids,
           'active', k.discord_guild_id
    FROM commands k
    WHERE NOT EXISTS (SELECT 1 FROM sources s WHERE s.external_event_id = k.external_event_id)
)
SELECT s.external_event_id, s.name, s.description, s.event_type, s.scheduled_start_ts, s.scheduled_end_ts,
       coalesce(k.command_start_ts, s.actual_start_ts) AS actual_start_ts,
       coalesce(c.actual_end_ts, ke.command_end_ts, s.actual_end_ts) AS actual_end_ts,
       s.host_discord_user_id,
       ARRAY(SELECT DISTINCT c FROM unnest(s.channel_ids || coalesce(k.channel_ids, '{}')) AS c ORDER BY c)
           AS channel_ids,
       CASE WHEN s.status = 'cancelled' AND c.actual_end_ts IS NULL THEN 'cancelled'
            WHEN c.actual_end_ts IS NOT NULL OR ke.command_end_ts IS NOT NULL THEN 'completed'
            WHEN k.command_start_ts IS NOT NULL AND s.status = 'scheduled' THEN 'active'
            ELSE s.status END AS status,
       s.discord_guild_id
FROM all_sources s
LEFT JOIN pwr_raw.event_completions c USING (external_event_id)
LEFT JOIN commands k USING (external_event_id)
LEFT JOIN command_ends ke USING (external_event_id);

-- name: hosts_without_member
SELECT DISTINCT host_discord_user_id FROM _event_sources s
WHERE host_discord_user_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM pwr_core.members m WHERE m.discord_user_id = s.host_discord_user_id);

-- name: upsert_events
INSERT INTO pwr_core.events AS e (external_event_id, name, description, event_type, scheduled_start_ts,
                                  scheduled_end_ts, actual_start_ts, actual_end_ts, host_member_id, status,
                                  discord_guild_id)
SELECT s.external_event_id, s.name, s.description, s.event_type, s.scheduled_start_ts, s.scheduled_end_ts,
       s.actual_start_ts, s.actual_end_ts, m.member_id, s.status, s.discord_guild_id
FROM _event_sources s
LEFT JOIN pwr_core.members m ON m.discord_user_id = s.host_discord_user_id
ON CONFLICT (external_event_id) DO UPDATE
SET name = excluded.name, description = excluded.description, event_type = excluded.event_type,
    scheduled_start_ts = excluded.scheduled_start_ts, scheduled_end_ts = excluded.scheduled_end_ts,
    actual_start_ts = excluded.actual_start_ts, actual_end_ts = excluded.actual_end_ts,
    host_member_id = excluded.host_member_id, status = excluded.status,
    discord_guild_id = excluded.discord_guild_id,
    changed_xid = CASE
        WHEN (e.status, e.scheduled_start_ts, e.scheduled_end_ts, e.actual_start_ts, e.actual_end_ts, e.discord_guild_id)
             IS DISTINCT FROM
             (excluded.status, excluded.scheduled_start_ts, excluded.scheduled_end_ts, excluded.actual_start_ts,
              excluded.actual_end_ts, excluded.discord_guild_id)
        THEN pg_current_xact_id() ELSE e.changed_xid END
WHERE (e.name, e.description, e.event_type, e.scheduled_start_ts, e.scheduled_end_ts, e.actual_start_ts,
       e.actual_end_ts, e.host_member_id, e.status, e.discord_guild_id)
      IS DISTINCT FROM
      (excluded.name, excluded.description, excluded.event_type, excluded.scheduled_start_ts,
       excluded.scheduled_end_ts, excluded.actual_start_ts, excluded.actual_end_ts, excluded.host_member_id,
       excluded.status, excluded.discord_guild_id);

-- name: sync_channels
WITH desired AS (
    SELECT e.event_id, unnest(s.channel_ids) AS discord_channel_id
    FROM _event_sources s JOIN pwr_core.events e USING (external_event_id)
),
removed AS (
    DELETE FROM pwr_core.event_channels c
    WHERE c.event_id IN (SELECT e.event_id FROM pwr_core.events e JOIN _event_sources USING (external_event_id))
      AND NOT EXISTS (SELECT 1 FROM desired d
                      WHERE d.event_id = c.event_id AND d.discord_channel_id = c.discord_channel_id)
    RETURNING c.event_id
),
added AS (
    INSERT INTO pwr_core.event_channels (event_id, discord_channel_id)
    SELECT DISTINCT event_id, discord_channel_id FROM desired
    ON CONFLICT DO NOTHING
    RETURNING event_id
)
UPDATE pwr_core.events SET changed_xid = pg_current_xact_id()
WHERE event_id IN (SELECT event_id FROM removed UNION SELECT event_id FROM added);
