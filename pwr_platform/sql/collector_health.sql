-- Collector health, as Dagster shows it (defs/core/collector_health.py): a dead collector or a
-- stuck core refresh must turn red in the UI, not be discovered weeks later on a dashboard.
-- Both answer in minutes against now(); the limit (PWR_COLLECTOR_GAP_MINUTES × 5) is applied in
-- Python so the metadata can show the figure either way.

-- name: heartbeat_silence
-- Per guild that ever had a collector: minutes since its newest heartbeat, stalest guild first.
-- Guilds come from a skip scan of the (guild, ts) index; each newest heartbeat is one probe.
WITH RECURSIVE guilds AS (
    (SELECT discord_guild_id FROM pwr_raw.collector_heartbeats ORDER BY discord_guild_id LIMIT 1)
    UNION ALL
    SELECT (SELECT h.discord_guild_id FROM pwr_raw.collector_heartbeats h
             WHERE h.discord_guild_id > g.discord_guild_id ORDER BY h.discord_guild_id LIMIT 1)
    FROM guilds g WHERE g.discord_guild_id IS NOT NULL
)
SELECT g.discord_guild_id, last.heartbeat_ts,
       round(extract(epoch FROM now() - last.heartbeat_ts) / 60, 1)::float AS silent_minutes
FROM guilds g
CROSS JOIN LATERAL (SELECT max(h.heartbeat_ts) AS heartbeat_ts FROM pwr_raw.collector_heartbeats h
                    WHERE h.discord_guild_id = g.discord_guild_id) last
WHERE g.discord_guild_id IS NOT NULL
ORDER BY silent_minutes DESC;

-- name: core_refresh_lag
-- Minutes the oldest raw voice event not yet seen by the sessionizer's watermark has waited (NULL:
-- nothing waits), and when the sessionizer last ran (NULL: never).
SELECT round(extract(epoch FROM now() - min(v.ingested_at)) / 60, 1)::float AS waiting_minutes,
       (SELECT updated_at FROM pwr_core.transform_watermarks WHERE transform_name = 'voice_sessions') AS last_run
FROM pwr_raw.discord_voice_events_since(
         coalesce((SELECT read_snapshot FROM pwr_core.transform_watermarks WHERE transform_name = 'voice_sessions'),
                  '1:1:'::pg_snapshot)) v;
