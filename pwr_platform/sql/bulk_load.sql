-- A whole-table rebuild of an aggregate (a backfill of every partition, a new warehouse) writes
-- millions of rows; maintaining the table's indexes row by row is then most of its cost (issue 16:
-- 2-3× the bare INSERT … SELECT). windows.py drops them before the INSERT and builds them again
-- after it, in the same transaction, when no row of the table lies outside the run's window.
-- These catalog queries say what to rebuild; the DDL is the catalog's own text
-- (pg_get_constraintdef / pg_indexes.indexdef), so the indexes come back exactly as the
-- migrations made them.

-- name: indexes
-- The table's primary-key / unique constraints (keys first) and its own foreign keys (checked row
-- by row during an INSERT, in one join when added again), its other indexes, and whether a
-- foreign key of another table depends on its keys (then nothing is dropped).
SELECT
    coalesce((
        SELECT json_agg(json_build_array(c.conname, pg_get_constraintdef(c.oid)) ORDER BY c.contype = 'f', c.conname)
        FROM pg_catalog.pg_constraint AS c
        WHERE c.conrelid = %(table)s::regclass AND c.contype IN ('p', 'u', 'f')
    ), '[]'::json) AS constraints,
    coalesce((
        SELECT json_agg(json_build_array(i.indexname, i.indexdef) ORDER BY i.indexname)
        FROM pg_catalog.pg_indexes AS i
        JOIN pg_catalog.pg_class AS ic ON ic.relname = i.indexname
        JOIN pg_catalog.pg_namespace AS n ON n.oid = ic.relnamespace AND n.nspname = i.schemaname
        WHERE format('%%I.%%I', i.schemaname, i.tablename)::regclass = %(table)s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c WHERE c.conindid = ic.oid)
    ), '[]'::json) AS indexes,
    EXISTS (
        SELECT 1 FROM pg_catalog.pg_constraint AS f
        WHERE f.contype = 'f' AND f.confrelid = %(table)s::regclass
    ) AS referenced;
