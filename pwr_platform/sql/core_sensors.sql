-- Questions the core sensors ask the warehouse each tick (cheap, indexed).

-- name: core_inputs_pending
-- ARCHITECTURE.md rule 5: the sessionizer runs when raw data arrived that its last run (and the
-- members run) could not see: voice events; heartbeats only where they can move a collector gap
-- (no heartbeat within the gap threshold before or after them, i.e. a gap opens, closes or a
-- late heartbeat falls into one); member records, scheduled-event records and /event commands;
-- channel records (a channel created or renamed) the channel names have not read.
WITH wm AS (
    SELECT coalesce((SELECT read_snapshot FROM pwr_core.transform_watermarks WHERE transform_name = 'voice_sessions'),
                    '1:1:'::pg_snapshot) AS sessions,
           coalesce((SELECT read_snapshot FROM pwr_core.transform_watermarks WHERE transform_name = 'members'),
                    '1:1:'::pg_snapshot) AS members,
           coalesce((SELECT read_snapshot FROM pwr_core.transform_watermarks WHERE transform_name = 'voice_channels'),
                    '1:1:'::pg_snapshot) AS channels
)
SELECT
    EXISTS (SELECT 1 FROM wm, pwr_raw.discord_voice_events_since(wm.sessions)) AS voice,
    EXISTS (SELECT 1 FROM wm, pwr_raw.collector_heartbeats_since(wm.sessions) h
            WHERE (NOT EXISTS (SELECT 1 FROM pwr_raw.collector_heartbeats p
                               WHERE p.discord_guild_id = h.discord_guild_id
                                 AND p.heartbeat_ts < h.heartbeat_ts
                                 AND p.heartbeat_ts >= h.heartbeat_ts - make_interval(mins => %(gap_minutes)s))
                   OR (EXISTS (SELECT 1 FROM pwr_raw.collector_heartbeats n
                               WHERE n.discord_guild_id = h.discord_guild_id AND n.heartbeat_ts > h.heartbeat_ts)
                       AND NOT EXISTS (SELECT 1 FROM pwr_raw.collector_heartbeats n
                                       WHERE n.discord_guild_id = h.discord_guild_id
                                         AND n.heartbeat_ts > h.heartbeat_ts
                                         AND n.heartbeat_ts <= h.heartbeat_ts + make_interval(mins => %(gap_minutes)s))))
           ) AS heartbeats,
    EXISTS (SELECT 1 FROM wm, pwr_raw.discord_member_events_since(wm.members)) AS member_records,
    EXISTS (SELECT 1 FROM wm, pwr_raw.discord_scheduled_events_since(wm.members))
        OR EXISTS (SELECT 1 FROM wm, pwr_raw.discord_event_commands_since(wm.members)) AS scheduled_events,
    EXISTS (SELECT 1 FROM wm, pwr_raw.discord_channel_events_since(wm.channels)) AS channel_records;

-- name: attendance_changes
-- One statement, so the snapshot it returns is exactly the one its rows were read with: the
-- cluster's identity (a cursor from another cluster is not compared), every event id (for
-- partitions), and the completed events changed since the cursor's snapshot. A changed_xid at or
-- past the current xmax cannot be this cluster's: it was restored from another one (the full
-- rebuild after such a restore stamps every completed event anew).
SELECT pg_current_snapshot()::text AS snapshot,
       (SELECT system_identifier FROM pg_control_system())::text AS cluster,
       array(SELECT event_id::text FROM pwr_core.events ORDER BY event_id) AS event_ids,
       array(SELECT event_id::text || ':' || changed_xid::text FROM pwr_core.events
             WHERE status = 'completed'
               AND NOT pg_visible_in_snapshot(changed_xid, %(cursor)s::pg_snapshot)
               AND changed_xid < pg_snapshot_xmax(pg_current_snapshot())
             ORDER BY event_id) AS changed_completed;
