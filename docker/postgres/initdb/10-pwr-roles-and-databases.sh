#!/bin/sh
# First start of the PostgreSQL container only (docker-entrypoint-initdb.d): one login role and one
# database per component, so no component holds another's password.
#   pwr       owns database pwr (the warehouse): migrations, the collector bot, Dagster runs.
#             CREATEROLE so that migrations can create the dashboards' read-only role.
#   dagster   owns database dagster (run, event-log and schedule storage).
#   superset  owns database superset (Superset's metadata: users, charts, dashboards).
# Passwords come from the environment (docker/.env) and reach psql through \getenv, never on a
# command line. Rotating them later is ALTER ROLE (docs/deploy.md, "Rotating secrets").
set -eu
: "${PWR_DB_PASSWORD:?}" "${PWR_DAGSTER_DB_PASSWORD:?}" "${PWR_SUPERSET_METADATA_DB_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\getenv pwr_password PWR_DB_PASSWORD
\getenv dagster_password PWR_DAGSTER_DB_PASSWORD
\getenv superset_password PWR_SUPERSET_METADATA_DB_PASSWORD

CREATE ROLE pwr LOGIN CREATEROLE PASSWORD :'pwr_password';
CREATE ROLE dagster LOGIN PASSWORD :'dagster_password';
CREATE ROLE superset LOGIN PASSWORD :'superset_password';

CREATE DATABASE pwr OWNER pwr;
CREATE DATABASE dagster OWNER dagster;
CREATE DATABASE superset OWNER superset;

-- Only the owner may connect to Dagster's and Superset's databases. The warehouse keeps the
-- default CONNECT for PUBLIC so that the dashboards' read-only role (created by a migration) can
-- log in; what it may read is decided by schema and table grants, not by CONNECT.
REVOKE ALL ON DATABASE dagster FROM PUBLIC;
REVOKE ALL ON DATABASE superset FROM PUBLIC;
SQL
echo "pwr: roles and databases pwr, dagster, superset created"
