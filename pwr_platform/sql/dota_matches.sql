-- pwr_dota.matches — one row per stored match document, parsed once: incremental, only matches
-- not in the table yet are read (a match never changes once played). Team names come from
-- radiant_team / dire_team (league matches with teams) or radiant_name / dire_name.

INSERT INTO pwr_dota.matches
    (match_id, league_id, start_ts, duration_seconds, radiant_win, winning_side, radiant_team, dire_team)
SELECT r.match_id,
       r.league_id,
       to_timestamp((r.document ->> 'start_time')::bigint),
       (r.document ->> 'duration')::int,
       (r.document ->> 'radiant_win')::boolean,
       CASE (r.document ->> 'radiant_win')::boolean WHEN TRUE THEN 'radiant' WHEN FALSE THEN 'dire' END,
       coalesce(r.document -> 'radiant_team' ->> 'name', r.document ->> 'radiant_name'),
       coalesce(r.document -> 'dire_team' ->> 'name', r.document ->> 'dire_name')
FROM pwr_dota.raw_matches r
WHERE NOT EXISTS (SELECT 1 FROM pwr_dota.matches m WHERE m.match_id = r.match_id);

SELECT count(*) AS matches FROM pwr_dota.matches;
