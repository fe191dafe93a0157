-- pwr_dota.match_players — one row per player of each parsed match, from its raw document:
-- incremental, only matches whose players are not in the table yet. Side from player_slot
-- (0–127 Radiant, 128–255 Dire; isRadiant when present), the result from the match's
-- radiant_win (a player's own win flag is absent from some documents). OpenDota's anonymous
-- account id 4294967295 becomes NULL.

INSERT INTO pwr_dota.match_players
    (match_id, player_slot, account_id, hero_id, side, is_win, kills, deaths, assists,
     gold_per_min, xp_per_min, last_hits, net_worth)
SELECT r.match_id,
       (p ->> 'player_slot')::smallint,
       nullif((p ->> 'account_id')::bigint, 4294967295),
       (p ->> 'hero_id')::int,
       s.side,
       CASE s.side WHEN 'radiant' THEN m.radiant_win ELSE NOT m.radiant_win END,
       (p ->> 'kills')::int,
       (p ->> 'deaths')::int,
       (p ->> 'assists')::int,
       (p ->> 'gold_per_min')::int,
       (p ->> 'xp_per_min')::int,
       (p ->> 'last_hits')::int,
       (p ->> 'net_worth')::int
FROM pwr_dota.raw_matches r
JOIN pwr_dota.matches m ON m.match_id = r.match_id
CROSS JOIN LATERAL jsonb_array_elements(r.document -> 'players') AS p
CROSS JOIN LATERAL (
    SELECT CASE
               WHEN jsonb_typeof(p -> 'isRadiant') = 'boolean'
                   THEN CASE WHEN (p ->> 'isRadiant')::boolean THEN 'radiant' ELSE 'dire' END
               WHEN (p ->> 'player_slot')::int < 128 THEN 'radiant'
               ELSE 'dire'
           END AS side
) AS s
WHERE NOT EXISTS (SELECT 1 FROM pwr_dota.match_players mp WHERE mp.match_id = r.match_id)
ON CONFLICT (match_id, player_slot) DO NOTHING;

SELECT count(*) AS match_players FROM pwr_dota.match_players;
