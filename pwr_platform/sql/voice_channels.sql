-- pwr_core.voice_channels — each voice channel's newest name, and the label dashboards show.
--
-- The collector names the channel in each voice payload as Discord calls it at that moment:
-- raw_payload.channel_name for the event's channel (joined, left, or moved into) and, on a move,
-- raw_payload.from_channel_name for the channel left. A channel's name is the one of its newest
-- such observation by event time (ties: the greater name, so the choice never depends on the
-- order rows arrive in); an empty name is no name. Because "newest" is a maximum, folding the raw
-- rows committed since the previous run (pwr_raw.discord_voice_events_since) into the stored
-- rows gives what reading them all at once gives: Python (pwr_platform/transforms/voice_channels.py)
-- passes the previous run's snapshot, or the empty snapshot (every row is new) for a rebuild.
-- The collector also records each voice and stage channel's name on its own
-- (pwr_raw.discord_channel_events: a snapshot of every channel at each connect, and each creation
-- and rename), so a channel renamed while nobody is in it takes its new name at the next run, not
-- at its next voice event; those rows are observations like the payloads' names, folded the same
-- way (pwr_raw.discord_channel_events_since).
-- A channel never named by either (older collectors, a log mapping without channel_name) has no
-- row, and readers show #<id>.

-- name: clear
DELETE FROM pwr_core.voice_channels;

-- name: upsert_names
WITH new_rows AS (
    SELECT discord_guild_id, discord_channel_id, event_type, event_ts, raw_payload
    FROM pwr_raw.discord_voice_events_since(%(prev)s::pg_snapshot)
), observed AS (
    SELECT discord_guild_id, discord_channel_id, raw_payload ->> 'channel_name' AS channel_name, event_ts
    FROM new_rows
    UNION ALL
    SELECT discord_guild_id, (raw_payload ->> 'from_channel_id')::bigint,
           raw_payload ->> 'from_channel_name', event_ts
    FROM new_rows
    WHERE event_type = 'move'
    UNION ALL
    SELECT discord_guild_id, discord_channel_id, channel_name, event_ts
    FROM pwr_raw.discord_channel_events_since(%(prev)s::pg_snapshot)
), newest AS (
    SELECT DISTINCT ON (discord_channel_id) discord_channel_id, discord_guild_id, channel_name, event_ts
    FROM observed
    WHERE channel_name <> '' AND discord_channel_id IS NOT NULL
    ORDER BY discord_channel_id, event_ts DESC, channel_name DESC
)
INSERT INTO pwr_core.voice_channels AS c
    (discord_channel_id, discord_guild_id, channel_name, name_seen_ts, channel_label)
SELECT discord_channel_id, discord_guild_id, channel_name, event_ts, '#' || channel_name
FROM newest
ON CONFLICT (discord_channel_id) DO UPDATE
    SET discord_guild_id = excluded.discord_guild_id,
        channel_name     = excluded.channel_name,
        name_seen_ts     = excluded.name_seen_ts
    WHERE (excluded.name_seen_ts, excluded.channel_name) > (c.name_seen_ts, c.channel_name);

-- name: labels
-- '#name', or '#name (id)' for every channel whose name another channel has too: a label names
-- one channel, so a chart grouped by it never adds two channels together. Recomputed for all rows
-- (a rename frees or takes a name other channels carry); the table has one row per channel.
UPDATE pwr_core.voice_channels AS c
SET channel_label = l.channel_label
FROM (SELECT discord_channel_id,
             '#' || channel_name
                 || CASE WHEN count(*) OVER (PARTITION BY channel_name) > 1
                         THEN ' (' || discord_channel_id || ')' ELSE '' END AS channel_label
      FROM pwr_core.voice_channels) AS l
WHERE l.discord_channel_id = c.discord_channel_id
  AND l.channel_label IS DISTINCT FROM c.channel_label;
