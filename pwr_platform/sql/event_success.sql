-- pwr_agg.event_success — issue "Dashboard views": event success per completed event, from
-- pwr_core.event_attendance (ARCHITECTURE.md "event_attendance").
-- window_start_ts          = actual_start_ts when both actual times are set, else scheduled_start_ts;
-- attendees                = attendance rows; on_time_attendees = joined_on_time; late = the others;
-- on_time_share            = on_time / attendees (NULL without attendees), 4 places;
-- avg_minutes_per_attendee = total attended seconds (clipped to the window) / 60 / attendees, 2 places.
-- Completed events without attendees are listed with 0 attendees.

DELETE FROM pwr_agg.event_success;

INSERT INTO pwr_agg.event_success
    (event_id, name, event_type, window_start_ts, attendees, on_time_attendees, late_attendees,
     on_time_share, avg_minutes_per_attendee, total_voice_seconds)
SELECT e.event_id, e.name, e.event_type,
       CASE WHEN e.actual_start_ts IS NOT NULL AND e.actual_end_ts IS NOT NULL
            THEN e.actual_start_ts ELSE e.scheduled_start_ts END,
       count(a.member_id),
       count(a.member_id) FILTER (WHERE a.joined_on_time),
       count(a.member_id) FILTER (WHERE a.joined_on_time IS NOT TRUE),
       round(count(a.member_id) FILTER (WHERE a.joined_on_time)::numeric / nullif(count(a.member_id), 0), 4),
       round(coalesce(sum(a.total_voice_seconds), 0) / 60.0 / nullif(count(a.member_id), 0), 2),
       coalesce(sum(a.total_voice_seconds), 0)
FROM pwr_core.events AS e
LEFT JOIN pwr_core.event_attendance AS a USING (event_id)
WHERE e.status = 'completed'
GROUP BY e.event_id;

SELECT count(*) AS rows_written, coalesce(sum(attendees), 0) AS attendees FROM pwr_agg.event_success;
