-- pwr_agg.event_rsvp — issue 12 item 5: interested (Discord RSVP) vs actually attended, per
-- completed Discord scheduled event (events from `pwr events import` have no RSVP and are left out).
-- interested      = the largest "user_count" among the event's raw observations
--                   (pwr_raw.discord_scheduled_events.raw_payload). Discord's gateway sends no
--                   count (discord.py then reports 0), so 0 or a missing count is "unknown": NULL
--                   when no observation carries a positive one;
-- attendees       = pwr_core.event_attendance rows of the event (ARCHITECTURE.md "event_attendance");
-- conversion_rate = attendees / interested, 4 places (NULL when interested is unknown); above 1
--                   when more came than said they would;
-- window_start_ts = actual start when both actual times are set, else scheduled (as event_success).

DELETE FROM pwr_agg.event_rsvp;

INSERT INTO pwr_agg.event_rsvp
    (event_id, name, event_type, window_start_ts, interested, attendees, conversion_rate)
WITH interest AS (
    SELECT 'discord:' || discord_event_id AS external_event_id, discord_guild_id,
           round(max((raw_payload->>'user_count')::numeric)
                     FILTER (WHERE jsonb_typeof(raw_payload->'user_count') = 'number'
                               AND (raw_payload->>'user_count')::numeric > 0))::integer AS interested
    FROM pwr_raw.discord_scheduled_events
    GROUP BY discord_guild_id, discord_event_id
), attended AS (
    SELECT event_id, count(*) AS attendees FROM pwr_core.event_attendance GROUP BY event_id
)
SELECT e.event_id, e.name, e.event_type,
       CASE WHEN e.actual_start_ts IS NOT NULL AND e.actual_end_ts IS NOT NULL
            THEN e.actual_start_ts ELSE e.scheduled_start_ts END,
       i.interested,
       coalesce(a.attendees, 0),
       round(coalesce(a.attendees, 0)::numeric / i.interested, 4)
FROM pwr_core.events AS e
JOIN interest AS i ON i.external_event_id = e.external_event_id AND i.discord_guild_id = e.discord_guild_id
LEFT JOIN attended AS a ON a.event_id = e.event_id
WHERE e.status = 'completed';

SELECT count(*) AS rows_written, count(interested) AS with_interest, coalesce(sum(attendees), 0) AS attendees
FROM pwr_agg.event_rsvp;
