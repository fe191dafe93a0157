-- pwr_dota.heroes — hero names from the newest /heroes document (pwr_dota.raw_references, kind
-- 'heroes'). Upsert: a hero renamed by Valve gets its new name; a hero gone from the list keeps
-- its row (old matches still name it).

INSERT INTO pwr_dota.heroes (hero_id, name, localized_name)
SELECT (hero ->> 'id')::int, hero ->> 'name', hero ->> 'localized_name'
FROM pwr_dota.raw_references r
CROSS JOIN LATERAL jsonb_array_elements(r.document) AS hero
WHERE r.kind = 'heroes'
ON CONFLICT (hero_id) DO UPDATE
SET name = excluded.name, localized_name = excluded.localized_name
WHERE (heroes.name, heroes.localized_name) IS DISTINCT FROM (excluded.name, excluded.localized_name);

SELECT count(*) AS heroes FROM pwr_dota.heroes;
