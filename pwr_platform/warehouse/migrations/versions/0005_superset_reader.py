"""Read-only role for Superset: SELECT on pwr_core and pwr_agg, nothing on pwr_raw.

Revision ID: 0005_superset_reader
Revises: 0004_agg
Create Date: 2026-11-25

Dashboards only read the modelled layers. The role can log in but gets no password here (a
migration is committed code, and a password in it would be a default credential): `pwr superset
start` sets it from PWR_SUPERSET_DB_PASSWORD or a secret generated into PWR_HOME/secrets, and
until then the role cannot authenticate. Default privileges make tables and views created later
in pwr_core / pwr_agg (by the migrating role, which also runs the Dagster assets) readable too.
The role is cluster-wide, so it is created only when missing (several warehouses, e.g. the test
databases, share one server); each database gets its own grants.
"""

from alembic import op

revision = "0005_superset_reader"
down_revision = "0004_agg"
branch_labels = None
depends_on = None

READER_ROLE = "pwr_reader"

UPGRADE = rf"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER_ROLE}') THEN
        CREATE ROLE {READER_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION;
    END IF;
END
$$;
COMMENT ON ROLE {READER_ROLE} IS 'PwR Platform: read-only access for Superset to pwr_core and pwr_agg.';
-- every statement of the role is read-only, even a function that would write
ALTER ROLE {READER_ROLE} SET default_transaction_read_only = on;
ALTER ROLE {READER_ROLE} SET statement_timeout = '120s';

REVOKE ALL ON SCHEMA pwr_raw FROM {READER_ROLE};
REVOKE ALL ON ALL TABLES IN SCHEMA pwr_raw FROM {READER_ROLE};

GRANT USAGE ON SCHEMA pwr_core, pwr_agg TO {READER_ROLE};
GRANT SELECT ON ALL TABLES IN SCHEMA pwr_core, pwr_agg TO {READER_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA pwr_core GRANT SELECT ON TABLES TO {READER_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA pwr_agg GRANT SELECT ON TABLES TO {READER_ROLE};
"""

DOWNGRADE = rf"""
ALTER DEFAULT PRIVILEGES IN SCHEMA pwr_core REVOKE SELECT ON TABLES FROM {READER_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA pwr_agg REVOKE SELECT ON TABLES FROM {READER_ROLE};
REVOKE ALL ON ALL TABLES IN SCHEMA pwr_core, pwr_agg FROM {READER_ROLE};
REVOKE ALL ON SCHEMA pwr_core, pwr_agg FROM {READER_ROLE};
-- the role itself goes only when no other database on the server still grants it something
DO $$
BEGIN
    DROP ROLE IF EXISTS {READER_ROLE};
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE '{READER_ROLE} kept: other databases on this server still grant it privileges';
END
$$;
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
