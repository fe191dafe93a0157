-- pwr_core.stale_aggregate_days: the days whose sessions the sessionizer changed, per aggregate
-- (migration 0008). The aggregates sensor asks which are pending; each aggregate run consumes the
-- marks of its window in its own transaction.

-- name: pending
-- Every pending mark, per aggregate, oldest day first (a few rows: marks live minutes).
SELECT aggregate, local_day FROM pwr_core.stale_aggregate_days ORDER BY aggregate, local_day;

-- name: seen_in_window
-- The marks an aggregate run will have covered: read BEFORE the run's SQL, so whatever the run
-- reads is at least as new as these marks.
SELECT local_day, marked_xid::text FROM pwr_core.stale_aggregate_days
WHERE aggregate = %(aggregate)s AND local_day >= %(start_date)s AND local_day < %(end_date)s;

-- name: consume
-- Delete the marks read before the run, unless marked again meanwhile (a newer marked_xid).
DELETE FROM pwr_core.stale_aggregate_days s
USING unnest(%(days)s::date[], %(xids)s::text[]) AS seen (local_day, marked_xid)
WHERE s.aggregate = %(aggregate)s AND s.local_day = seen.local_day AND s.marked_xid::text = seen.marked_xid;
