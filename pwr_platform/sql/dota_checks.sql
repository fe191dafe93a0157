-- Asset checks of the pwr_dota match tables (defs/dota/checks.py): each statement counts the
-- violations of one rule; a check passes at zero.

-- name: matches_without_ten_players
SELECT count(*)
FROM pwr_dota.matches m
WHERE (SELECT count(*) FROM pwr_dota.match_players p WHERE p.match_id = m.match_id) <> 10

-- name: matches_without_one_winning_side
-- one side won and the other lost, and the match row says the same side won
SELECT count(*)
FROM pwr_dota.matches m
WHERE m.winning_side IS NULL
   OR EXISTS (
       SELECT 1 FROM pwr_dota.match_players p
       WHERE p.match_id = m.match_id
       GROUP BY p.match_id
       HAVING count(DISTINCT p.side) FILTER (WHERE p.is_win) <> 1
           OR count(DISTINCT p.side) FILTER (WHERE NOT p.is_win) <> 1
           OR bool_or(p.is_win IS NULL)
           OR bool_or(p.is_win AND p.side <> m.winning_side)
   )

-- name: orphan_players
SELECT count(*)
FROM pwr_dota.match_players p
WHERE NOT EXISTS (SELECT 1 FROM pwr_dota.matches m WHERE m.match_id = p.match_id)
