-- pwr_core.voice_sessions — ARCHITECTURE.md "Table semantics", rules 1–5 (the sessionizer).
--
-- Per (guild, user) the raw events are ordered by event_ts, then leave < move < join, then
-- channel id, then id. In that order every join or move opens a session in its channel (rules 1,
-- 2) and the session lasts until the user's NEXT event, whatever it is: a leave (close_reason
-- 'leave', rule 3), a move ('move') or a join ('rejoin'). A leave never opens anything, so a leave
-- whose previous event was a leave (or nothing) closes nothing: it is ignored and counted. That is
-- one LEAD() over the ordered events, then rule 4 caps the result:
--   * cap     = start + PWR_MAX_SESSION_HOURS. When the next event is later than the cap, or
--               there is none and the guild's newest event is already past it: ends at the cap
--               ('timeout'). "Later" and "past" are strict: an event exactly at the cap ends it.
--   * gap     = the first collector gap (pwr_core.collector_gaps) whose last heartbeat is at or
--               after the start and before the end the rules above give: ends there
--               ('collector_gap'). At an exact tie with the cap or with an event, those win.
-- Everything is decided by the data's own clock (the guild's newest event), never now().
-- Seconds are whole: duration_seconds = round(end - start) per session.
--
-- Rule 5 (incremental): for each (guild, user) with new raw rows the run recomputes from the
-- user's last event before the earliest new one (_affected.recompute_from). Sessions opened
-- earlier end at or before that event, so they cannot change; everything from there on is deleted
-- and rebuilt from raw. Collector gaps that appear or vanish (late heartbeats) make the users
-- with a session that was open at the gap's start recompute from that session's start.
--
-- Python (pwr_platform/transforms/sessionizer.py) runs the named statements below in one
-- REPEATABLE READ transaction: settings arrive as pwr.* transaction settings, the previous run's
-- snapshot as %(prev)s. A full rebuild (pwr_platform/transforms/session_rebuild.py) runs the same
-- statements on slices of users, each in its own connection under the run's exported snapshot,
-- into new tables ({target}) that the run's transaction then swaps in as the partitions.

-- name: temp_tables
-- The run's working tables (dropped at its commit).
CREATE TEMP TABLE _new_voice_events (discord_guild_id BIGINT, discord_user_id BIGINT,
                                     first_new_ts TIMESTAMPTZ, new_rows BIGINT) ON COMMIT DROP;
CREATE TEMP TABLE _gap_regions (discord_guild_id BIGINT, region_lo TIMESTAMPTZ, region_hi TIMESTAMPTZ) ON COMMIT DROP;
CREATE TEMP TABLE _recomputed_gaps (discord_guild_id BIGINT, gap_start_ts TIMESTAMPTZ, gap_end_ts TIMESTAMPTZ) ON COMMIT DROP;
CREATE TEMP TABLE _gap_changes (discord_guild_id BIGINT, gap_start_ts TIMESTAMPTZ) ON COMMIT DROP;
CREATE TEMP TABLE _affected (discord_guild_id BIGINT, discord_user_id BIGINT, recompute_from TIMESTAMPTZ, member_id BIGINT,
                             PRIMARY KEY (discord_guild_id, discord_user_id)) ON COMMIT DROP;
CREATE TEMP TABLE _guild_clock (discord_guild_id BIGINT PRIMARY KEY, newest_ts TIMESTAMPTZ, cap INTERVAL) ON COMMIT DROP;
CREATE TEMP TABLE _old_sessions (member_id BIGINT, discord_guild_id BIGINT, discord_channel_id BIGINT,
                                 session_start_ts TIMESTAMPTZ, session_end_ts TIMESTAMPTZ, close_reason TEXT) ON COMMIT DROP;
CREATE TEMP TABLE _new_sessions (LIKE _old_sessions) ON COMMIT DROP;
CREATE TEMP TABLE _changed_sessions (LIKE _old_sessions) ON COMMIT DROP;
CREATE TEMP TABLE _changed_days (local_day DATE PRIMARY KEY) ON COMMIT DROP;

-- name: new_voice_events
-- Rows the previous run's snapshot could not see are exactly the rows committed since
-- (pwr_raw.*_since, migration 0004: two index lookups on ingest_xid, whatever the history).
-- Per (guild, user): the earliest new instant.
INSERT INTO _new_voice_events (discord_guild_id, discord_user_id, first_new_ts, new_rows)
SELECT discord_guild_id, discord_user_id, min(event_ts), count(*)
FROM pwr_raw.discord_voice_events_since(%(prev)s::pg_snapshot)
GROUP BY discord_guild_id, discord_user_id;

-- name: new_heartbeat_regions
-- Where the collector gaps may have changed: per guild, from the heartbeat before the earliest
-- new heartbeat to the one after the latest new heartbeat.
INSERT INTO _gap_regions (discord_guild_id, region_lo, region_hi)
SELECT n.discord_guild_id,
       coalesce((SELECT max(h.heartbeat_ts) FROM pwr_raw.collector_heartbeats h
                  WHERE h.discord_guild_id = n.discord_guild_id AND h.heartbeat_ts < n.lo), n.lo),
       coalesce((SELECT min(h.heartbeat_ts) FROM pwr_raw.collector_heartbeats h
                  WHERE h.discord_guild_id = n.discord_guild_id AND h.heartbeat_ts > n.hi), n.hi)
FROM (SELECT discord_guild_id, min(heartbeat_ts) AS lo, max(heartbeat_ts) AS hi
      FROM pwr_raw.collector_heartbeats_since(%(prev)s::pg_snapshot)
      GROUP BY discord_guild_id) n;

-- name: all_heartbeat_regions
-- Full rebuild: every guild's whole heartbeat history.
INSERT INTO _gap_regions (discord_guild_id, region_lo, region_hi)
SELECT DISTINCT discord_guild_id, '-infinity'::timestamptz, 'infinity'::timestamptz
FROM pwr_raw.collector_heartbeats;

-- name: recompute_gaps
-- The gaps inside each region: consecutive distinct heartbeat instants further apart than
-- PWR_COLLECTOR_GAP_MINUTES.
INSERT INTO _recomputed_gaps (discord_guild_id, gap_start_ts, gap_end_ts)
SELECT r.discord_guild_id, p.gap_start_ts, p.gap_end_ts
FROM _gap_regions r
CROSS JOIN LATERAL (
    SELECT heartbeat_ts AS gap_start_ts, next_ts AS gap_end_ts
    FROM (SELECT heartbeat_ts, lead(heartbeat_ts) OVER (ORDER BY heartbeat_ts) AS next_ts
          FROM (SELECT DISTINCT heartbeat_ts FROM pwr_raw.collector_heartbeats h
                WHERE h.discord_guild_id = r.discord_guild_id
                  AND h.heartbeat_ts BETWEEN r.region_lo AND r.region_hi) d) pairs
    WHERE next_ts - heartbeat_ts > make_interval(mins => current_setting('pwr.collector_gap_minutes')::int)
) p;

-- name: replace_gaps
-- Replace the stored gaps inside each region by the recomputed ones, and keep what changed.
WITH removed AS (
    DELETE FROM pwr_core.collector_gaps g
    USING _gap_regions r
    WHERE g.discord_guild_id = r.discord_guild_id
      AND g.gap_start_ts >= r.region_lo AND g.gap_end_ts <= r.region_hi
    RETURNING g.discord_guild_id, g.gap_start_ts, g.gap_end_ts
),
added AS (
    INSERT INTO pwr_core.collector_gaps (discord_guild_id, gap_start_ts, gap_end_ts)
    SELECT discord_guild_id, gap_start_ts, gap_end_ts FROM _recomputed_gaps
    RETURNING discord_guild_id, gap_start_ts, gap_end_ts
)
INSERT INTO _gap_changes (discord_guild_id, gap_start_ts)
SELECT discord_guild_id, gap_start_ts FROM
    ((SELECT * FROM removed EXCEPT SELECT * FROM added)
     UNION
     (SELECT * FROM added EXCEPT SELECT * FROM removed)) changed;

-- name: affected_users
-- Who to recompute, and from when: the user's last event before the earliest new one (or the
-- new one itself), and the start of every session open at a changed gap's last heartbeat.
INSERT INTO _affected (discord_guild_id, discord_user_id, recompute_from)
SELECT discord_guild_id, discord_user_id, min(recompute_from)
FROM (
    SELECT n.discord_guild_id, n.discord_user_id,
           coalesce((SELECT max(e.event_ts) FROM pwr_raw.discord_voice_events e
                      WHERE e.discord_guild_id = n.discord_guild_id
                        AND e.discord_user_id = n.discord_user_id
                        AND e.event_ts < n.first_new_ts), n.first_new_ts) AS recompute_from
    FROM _new_voice_events n
    UNION ALL
    SELECT s.discord_guild_id, m.discord_user_id, s.session_start_ts
    FROM _gap_changes c
    JOIN pwr_core.voice_sessions s
      ON s.discord_guild_id = c.discord_guild_id
     AND s.session_start_ts BETWEEN c.gap_start_ts - make_interval(hours => current_setting('pwr.max_session_hours')::int)
                                AND c.gap_start_ts
    JOIN pwr_core.members m ON m.member_id = s.member_id
) candidates
GROUP BY discord_guild_id, discord_user_id;

-- name: affected_users_without_member
SELECT DISTINCT a.discord_user_id
FROM _affected a
WHERE NOT EXISTS (SELECT 1 FROM pwr_core.members m WHERE m.discord_user_id = a.discord_user_id);

-- name: affected_member_ids
-- Each affected user's member id next to its guild and instant, so that every lookup of their
-- sessions below probes the (member, guild, start) index of each partition with all three from
-- one row. (With the member joined separately, the planner probed by member alone and filtered
-- all of the member's sessions: 0.4 s instead of a few ms at 10 M raw events.)
UPDATE _affected a SET member_id = m.member_id
FROM pwr_core.members m
WHERE m.discord_user_id = a.discord_user_id;

-- name: delete_affected_sessions
WITH removed AS (
    DELETE FROM pwr_core.voice_sessions s
    USING _affected a
    WHERE s.member_id = a.member_id
      AND s.discord_guild_id = a.discord_guild_id
      AND s.session_start_ts >= a.recompute_from
    RETURNING s.member_id, s.discord_guild_id, s.discord_channel_id, s.session_start_ts,
              s.session_end_ts, s.close_reason
)
INSERT INTO _old_sessions SELECT * FROM removed;

-- name: ordered_events_full
-- Every raw event of one slice of (guild, user) pairs, from %(first_guild)s / %(first_user)s to
-- %(last_guild)s / %(last_user)s inclusive, with the user's next event (full rebuild). The natural
-- key is unique on (guild, user, event_ts, event_type, channel), so (event_ts, leave < move < join,
-- channel) already orders a user's events totally: the id tiebreak of the rule can never be
-- reached and is left out, which lets PostgreSQL read the slice in (guild, user, event_ts) order
-- straight from the natural-key index (one index range, index-only) and sort only the rare ties
-- at one instant (incremental sort).
SELECT e.discord_guild_id, e.discord_user_id, e.discord_channel_id, e.event_type, e.event_ts,
       lead(e.event_ts) OVER w AS next_ts, lead(e.event_type) OVER w AS next_type
FROM pwr_raw.discord_voice_events e
WHERE (e.discord_guild_id, e.discord_user_id) >= (%(first_guild)s, %(first_user)s)
  AND (e.discord_guild_id, e.discord_user_id) <= (%(last_guild)s, %(last_user)s)
WINDOW w AS (PARTITION BY e.discord_guild_id, e.discord_user_id
             ORDER BY e.event_ts, CASE e.event_type WHEN 'leave' THEN 0 WHEN 'move' THEN 1 ELSE 2 END,
                      e.discord_channel_id)

-- name: ordered_events_incremental
-- The affected users' events from recompute_from on, each with the user's next event: one index
-- range per user (CROSS JOIN LATERAL), so the cost follows the new events, not the history.
SELECT a.discord_guild_id, a.discord_user_id, e.discord_channel_id, e.event_type, e.event_ts,
       e.next_ts, e.next_type
FROM _affected a
CROSS JOIN LATERAL (
    SELECT r.discord_channel_id, r.event_type, r.event_ts,
           lead(r.event_ts) OVER w AS next_ts, lead(r.event_type) OVER w AS next_type
    FROM pwr_raw.discord_voice_events r
    WHERE r.discord_guild_id = a.discord_guild_id
      AND r.discord_user_id = a.discord_user_id
      AND r.event_ts >= a.recompute_from
    WINDOW w AS (ORDER BY r.event_ts, CASE r.event_type WHEN 'leave' THEN 0 WHEN 'move' THEN 1 ELSE 2 END,
                          r.discord_channel_id)
) e

-- name: guild_clock_incremental
-- The data's own clock: each affected guild's newest raw event (index (guild, event_ts)), and
-- the cap as an interval (computed once here, not per row).
INSERT INTO _guild_clock (discord_guild_id, newest_ts, cap)
SELECT g.discord_guild_id,
       (SELECT max(e.event_ts) FROM pwr_raw.discord_voice_events e WHERE e.discord_guild_id = g.discord_guild_id),
       make_interval(hours => current_setting('pwr.max_session_hours')::int)
FROM (SELECT DISTINCT discord_guild_id FROM _affected) g;

-- name: guild_clock_full
-- Every guild's newest event, found by skipping through the (guild, event_ts) index guild by
-- guild instead of reading the whole table.
WITH RECURSIVE guilds AS (
    (SELECT discord_guild_id FROM pwr_raw.discord_voice_events ORDER BY discord_guild_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.discord_guild_id FROM pwr_raw.discord_voice_events e
             WHERE e.discord_guild_id > g.discord_guild_id ORDER BY e.discord_guild_id LIMIT 1)
    FROM guilds g WHERE g.discord_guild_id IS NOT NULL
)
INSERT INTO _guild_clock (discord_guild_id, newest_ts, cap)
SELECT g.discord_guild_id,
       (SELECT max(e.event_ts) FROM pwr_raw.discord_voice_events e WHERE e.discord_guild_id = g.discord_guild_id),
       make_interval(hours => current_setting('pwr.max_session_hours')::int)
FROM guilds g WHERE g.discord_guild_id IS NOT NULL;

-- name: insert_sessions
-- ordered_events is one of the two statements above (filled in by Python), target the sessions
-- table or a new partition. Each join / move opens a session that the next event ends, unless the
-- cap comes first (rules 1–4; gaps are applied next).
-- This statement carries almost all of a full rebuild's cost, so each row's work is kept to plain
-- comparisons: the cap is computed once per guild (_guild_clock), and the duration is rounded in
-- double precision instead of numeric (extract(epoch ...) is numeric since PostgreSQL 14).
-- floor(x + 0.5) on x >= 0 is numeric round()'s half-away-from-zero: x is microseconds / 10^6,
-- exact at every .5 and at least 10^-6 away from it otherwise, far above double's error at these
-- magnitudes, so both give the same whole second.
WITH ordered AS ({ordered_events}),
opened AS (
    SELECT o.*, o.event_ts + c.cap AS cap_ts, c.newest_ts
    FROM ordered o
    JOIN _guild_clock c USING (discord_guild_id)
    WHERE o.event_type <> 'leave'
),
shaped AS (
    SELECT discord_guild_id, discord_user_id, discord_channel_id, event_ts AS session_start_ts,
           CASE WHEN next_ts <= cap_ts THEN next_ts
                WHEN next_ts IS NOT NULL OR newest_ts > cap_ts THEN cap_ts
           END AS session_end_ts,
           CASE WHEN next_ts <= cap_ts
                THEN CASE next_type WHEN 'leave' THEN 'leave' WHEN 'move' THEN 'move' ELSE 'rejoin' END
                WHEN next_ts IS NOT NULL OR newest_ts > cap_ts THEN 'timeout'
           END AS close_reason
    FROM opened
)
INSERT INTO {target} (member_id, discord_guild_id, discord_channel_id, session_start_ts,
                      session_end_ts, duration_seconds, is_completed, close_reason)
SELECT m.member_id, s.discord_guild_id, s.discord_channel_id, s.session_start_ts, s.session_end_ts,
       floor(date_part('epoch', s.session_end_ts - s.session_start_ts) + 0.5)::int,
       s.session_end_ts IS NOT NULL, s.close_reason
FROM shaped s
JOIN pwr_core.members m ON m.discord_user_id = s.discord_user_id;

-- name: close_at_gaps
-- Rule 4, collector gaps: a session still going at the last heartbeat before a gap ends there.
-- Only gaps from the earliest recomputed instant on can touch a rebuilt session; older sessions
-- already obey the rule, so re-applying it to them changes nothing. {sessions} is the sessions
-- table or a new partition, {gaps} the stored gaps or (full rebuild) the recomputed ones.
UPDATE {sessions} s
SET session_end_ts = g.gap_start_ts,
    duration_seconds = round(extract(epoch FROM g.gap_start_ts - s.session_start_ts))::int,
    is_completed = TRUE,
    close_reason = 'collector_gap'
FROM (
    SELECT s2.session_id, min(g2.gap_start_ts) AS gap_start_ts
    FROM {gaps} g2
    JOIN {sessions} s2
      ON s2.discord_guild_id = g2.discord_guild_id
     AND s2.session_start_ts BETWEEN g2.gap_start_ts - make_interval(hours => current_setting('pwr.max_session_hours')::int)
                                 AND g2.gap_start_ts
     AND g2.gap_start_ts < coalesce(s2.session_end_ts, 'infinity')
     AND g2.gap_start_ts < s2.session_start_ts + make_interval(hours => current_setting('pwr.max_session_hours')::int)
    WHERE g2.gap_start_ts >= %(since)s
    GROUP BY s2.session_id
) g
WHERE s.session_id = g.session_id;

-- name: close_timed_out
-- Rule 4, cap on open sessions: once the guild's newest event is past start + cap, the session
-- ends at the cap. Open sessions are few (partial index), and the guild clock only moves forward.
-- Both versions of each closed session are kept for the attendance flags below.
WITH closed AS (
    UPDATE pwr_core.voice_sessions s
    SET session_end_ts = s.session_start_ts + make_interval(hours => current_setting('pwr.max_session_hours')::int),
        duration_seconds = current_setting('pwr.max_session_hours')::int * 3600,
        is_completed = TRUE,
        close_reason = 'timeout'
    WHERE s.session_end_ts IS NULL
      AND s.session_start_ts + make_interval(hours => current_setting('pwr.max_session_hours')::int)
          < (SELECT max(e.event_ts) FROM pwr_raw.discord_voice_events e WHERE e.discord_guild_id = s.discord_guild_id)
    RETURNING s.member_id, s.discord_guild_id, s.discord_channel_id, s.session_start_ts,
              s.session_end_ts, s.close_reason
),
before AS (
    INSERT INTO _old_sessions
    SELECT member_id, discord_guild_id, discord_channel_id, session_start_ts, NULL, NULL FROM closed
)
INSERT INTO _new_sessions SELECT * FROM closed;

-- name: new_sessions_of_affected
INSERT INTO _new_sessions
SELECT s.member_id, s.discord_guild_id, s.discord_channel_id, s.session_start_ts, s.session_end_ts,
       s.close_reason
FROM _affected a
JOIN pwr_core.voice_sessions s
  ON s.member_id = a.member_id AND s.discord_guild_id = a.discord_guild_id
 AND s.session_start_ts >= a.recompute_from;

-- name: collect_changed_sessions
-- The sessions that really changed: replaced ones that were not rebuilt identically, and new ones.
INSERT INTO _changed_sessions
(SELECT * FROM _old_sessions EXCEPT ALL SELECT * FROM _new_sessions)
UNION ALL
(SELECT * FROM _new_sessions EXCEPT ALL SELECT * FROM _old_sessions);

-- name: flag_events_with_changed_sessions
-- Attendance of a completed event is recomputed whenever sessions overlapping its window change:
-- stamp those events so the attendance sensor requests their partitions again.
UPDATE pwr_core.events e
SET changed_xid = pg_current_xact_id()
FROM pwr_core.event_windows w
WHERE w.event_id = e.event_id
  AND e.status = 'completed'
  AND EXISTS (
      SELECT 1
      FROM _changed_sessions c
      JOIN pwr_core.event_channels ec ON ec.discord_channel_id = c.discord_channel_id
      WHERE ec.event_id = e.event_id
        AND (e.discord_guild_id IS NULL OR e.discord_guild_id = c.discord_guild_id)
        AND c.session_start_ts < w.window_end_ts
        AND coalesce(c.session_end_ts, w.window_end_ts) > w.window_start_ts
  );

-- name: flag_all_completed_events
UPDATE pwr_core.events SET changed_xid = pg_current_xact_id() WHERE status = 'completed';

-- name: changed_days_incremental
-- Late data reaches the aggregates however late it is: every local day (pwr.timezone) touched
-- by a session that changed (an open session touches its start day; a session ending exactly at
-- midnight does not touch the next day).
INSERT INTO _changed_days (local_day)
SELECT DISTINCT day::date
FROM _changed_sessions c,
     generate_series(
         date_trunc('day', c.session_start_ts AT TIME ZONE current_setting('pwr.timezone')),
         date_trunc('day', greatest(c.session_start_ts, c.session_end_ts - interval '1 microsecond')
                           AT TIME ZONE current_setting('pwr.timezone')),
         interval '1 day') AS day;

-- name: changed_days_full
-- A full rebuild may change any session: every day from the first raw voice event to the last
-- (every old and new session lies between them; the new slices themselves were committed by
-- other connections after this transaction's snapshot, so they are not read here).
INSERT INTO _changed_days (local_day)
SELECT day::date
FROM (SELECT min(event_ts) AS lo, max(event_ts) AS hi FROM pwr_raw.discord_voice_events) span,
     generate_series(date_trunc('day', span.lo AT TIME ZONE current_setting('pwr.timezone')),
                     date_trunc('day', span.hi AT TIME ZONE current_setting('pwr.timezone')),
                     interval '1 day') AS day
WHERE span.lo IS NOT NULL;

-- name: mark_stale_days
-- The changed days are marked stale for each aggregate built from sessions (%(aggregates)s), in this transaction;
-- the aggregates sensor requests exactly those partitions. A day marked again while an aggregate
-- runs gets a new marked_xid, so the run does not consume the newer mark.
INSERT INTO pwr_core.stale_aggregate_days AS s (aggregate, local_day)
SELECT a.aggregate, d.local_day
FROM _changed_days d
CROSS JOIN unnest(%(aggregates)s::text[]) AS a (aggregate)
WHERE TRUE  -- ends the FROM clause for parsers that would read ON CONFLICT as a join condition
ON CONFLICT (aggregate, local_day) DO UPDATE
    SET marked_xid = pg_current_xact_id(), marked_at = now();

-- name: ignored_leaves
-- Rule 3's count: each leave that closes something closes exactly one session (ending at the
-- leave), so the ignored leaves are the leaves minus the sessions closed by a leave — here over
-- the recomputed stretch of each affected user (per-user index ranges, LATERAL).
SELECT coalesce(sum(l.leaves - c.closed), 0)::bigint
FROM _affected a
CROSS JOIN LATERAL (SELECT count(*) AS leaves FROM pwr_raw.discord_voice_events e
                    WHERE e.discord_guild_id = a.discord_guild_id AND e.discord_user_id = a.discord_user_id
                      AND e.event_ts >= a.recompute_from AND e.event_type = 'leave') l
CROSS JOIN LATERAL (SELECT count(*) AS closed FROM pwr_core.voice_sessions s
                    WHERE s.member_id = a.member_id AND s.discord_guild_id = a.discord_guild_id
                      AND s.session_start_ts >= a.recompute_from - make_interval(hours => current_setting('pwr.max_session_hours')::int)
                      AND s.session_end_ts >= a.recompute_from AND s.close_reason = 'leave') c;

-- name: raw_events_all
-- Full rebuild, rule 3's count: every join / move opened exactly one written session (all users
-- are members, checked first), so the leaves are the raw events minus the sessions written; the
-- ignored ones are those minus the sessions a leave closed (sessions_closed_by_leave, per slice).
SELECT count(*) FROM pwr_raw.discord_voice_events;

-- name: sessions_closed_by_leave
SELECT count(*) FROM {target} WHERE close_reason = 'leave';

-- name: users_without_member_all
-- Full rebuild: raw users not yet in pwr_core.members. The distinct users are found by skipping
-- through the (user, event_ts) index user by user instead of reading every raw event.
WITH RECURSIVE users AS (
    (SELECT discord_user_id FROM pwr_raw.discord_voice_events ORDER BY discord_user_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.discord_user_id FROM pwr_raw.discord_voice_events e
             WHERE e.discord_user_id > u.discord_user_id ORDER BY e.discord_user_id LIMIT 1)
    FROM users u WHERE u.discord_user_id IS NOT NULL
)
SELECT u.discord_user_id FROM users u
WHERE u.discord_user_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM pwr_core.members m WHERE m.discord_user_id = u.discord_user_id);

-- name: users_with_sessions_all
-- Full rebuild: distinct (member, guild) pairs with a session in a new partition (a pair's
-- sessions are all in its slice's partition), by skipping through its (member_id, guild, start)
-- index pair by pair instead of sorting every session.
WITH RECURSIVE pairs AS (
    (SELECT member_id, discord_guild_id FROM {target}
     ORDER BY member_id, discord_guild_id LIMIT 1)
    UNION ALL
    SELECT n.member_id, n.discord_guild_id
    FROM pairs p
    CROSS JOIN LATERAL (
        SELECT s.member_id, s.discord_guild_id FROM {target} s
        WHERE (s.member_id, s.discord_guild_id) > (p.member_id, p.discord_guild_id)
        ORDER BY s.member_id, s.discord_guild_id LIMIT 1
    ) n
)
SELECT count(*) FROM pairs;
