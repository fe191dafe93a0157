-- pwr_agg.event_type_success — issue "Dashboard views": event success per event type, from
-- pwr_agg.event_success. Events without a type form the group '(none)'.
-- avg_attendees            = mean attendees per event;
-- on_time_share            = on-time attendees / attendees over all the type's events (pooled);
-- avg_minutes_per_attendee = attended seconds / 60 / attendees over all the type's events (pooled).

DELETE FROM pwr_agg.event_type_success;

INSERT INTO pwr_agg.event_type_success
    (event_type, events, avg_attendees, on_time_share, avg_minutes_per_attendee)
SELECT coalesce(event_type, '(none)'),
       count(*),
       round(avg(attendees), 2),
       round(sum(on_time_attendees)::numeric / nullif(sum(attendees), 0), 4),
       round(sum(total_voice_seconds) / 60.0 / nullif(sum(attendees), 0), 2)
FROM pwr_agg.event_success
GROUP BY 1;

SELECT count(*) AS rows_written FROM pwr_agg.event_type_success;
