-- pwr_dota.leagues — every league a stored match was played in, or whose /leagues/<id> document
-- is stored, named by that document, else by the match document's own league object, else by
-- its id ("League 123"), so a chart never shows a bare number without saying what it is.

INSERT INTO pwr_dota.leagues (league_id, name)
SELECT league_id,
       coalesce(
           (SELECT r.document ->> 'name' FROM pwr_dota.raw_references r
            WHERE r.kind = 'league' AND r.ref_id = ids.league_id),
           (SELECT m.document -> 'league' ->> 'name' FROM pwr_dota.raw_matches m
            WHERE m.league_id = ids.league_id AND m.document -> 'league' ->> 'name' IS NOT NULL
            ORDER BY m.match_id DESC LIMIT 1),
           'League ' || league_id
       )
FROM (
    SELECT DISTINCT league_id FROM pwr_dota.raw_matches WHERE league_id IS NOT NULL
    UNION
    SELECT ref_id FROM pwr_dota.raw_references WHERE kind = 'league'
) AS ids
ON CONFLICT (league_id) DO UPDATE
SET name = excluded.name
WHERE leagues.name IS DISTINCT FROM excluded.name;

SELECT count(*) AS leagues FROM pwr_dota.leagues;
