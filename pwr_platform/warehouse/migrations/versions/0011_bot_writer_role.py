"""The collector bot's own role: INSERT and SELECT on pwr_raw, nothing else.

Revision ID: 0011_bot_writer_role
Revises: 0010_drilldowns
Create Date: 2026-12-02

Why: the bot is the one component that faces the internet (the Discord gateway), so it is the
likeliest to be compromised; as the warehouse owner it could drop every table. As ``pwr_bot`` it
can only add raw records and read them back (the writer's ``ON CONFLICT DO NOTHING`` replays
need no more): no UPDATE, DELETE or TRUNCATE of what was collected, no DDL, nothing in pwr_core or
pwr_agg. USAGE on pwr_raw's sequences lets an INSERT draw its ``id``; default privileges extend the
same grants to raw tables and sequences that later migrations create (as the migrating role).

Like the dashboards' reader role (0005) the role gets no password here (a password in committed
code would be a default credential): `pwr db upgrade` sets it from ``PWR_BOT_DB_PASSWORD``, and
until then the role cannot log in. The role is cluster-wide, so it is created only when missing;
each database gets its own grants.
"""

from alembic import op

revision = "0011_bot_writer_role"
down_revision = "0010_drilldowns"
branch_labels = None
depends_on = None

BOT_ROLE = "pwr_bot"

GRANTS = f"""
COMMENT ON ROLE {BOT_ROLE} IS 'PwR Platform: the collector bot; INSERT and SELECT on pwr_raw only.';
GRANT USAGE ON SCHEMA pwr_raw TO {BOT_ROLE};
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA pwr_raw TO {BOT_ROLE};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA pwr_raw TO {BOT_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA pwr_raw GRANT SELECT, INSERT ON TABLES TO {BOT_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA pwr_raw GRANT USAGE ON SEQUENCES TO {BOT_ROLE};
"""

REVOKES = f"""
ALTER DEFAULT PRIVILEGES IN SCHEMA pwr_raw REVOKE SELECT, INSERT ON TABLES FROM {BOT_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA pwr_raw REVOKE USAGE ON SEQUENCES FROM {BOT_ROLE};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pwr_raw FROM {BOT_ROLE};
REVOKE ALL ON ALL TABLES IN SCHEMA pwr_raw FROM {BOT_ROLE};
REVOKE ALL ON SCHEMA pwr_raw FROM {BOT_ROLE};
"""


def _role_exists(bind) -> bool:
    return bind.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (BOT_ROLE,)).first() is not None


def upgrade() -> None:
    bind = op.get_bind()
    if not _role_exists(bind):
        bind.exec_driver_sql(
            f"CREATE ROLE {BOT_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION"
        )
    bind.exec_driver_sql(GRANTS)


def downgrade() -> None:
    bind = op.get_bind()
    bind.exec_driver_sql(REVOKES)
    # the role itself goes only when no other database on the server still grants it something
    grants_elsewhere = bind.exec_driver_sql(
        "SELECT count(*) FROM pg_shdepend WHERE refobjid = (SELECT oid FROM pg_roles WHERE rolname = %s)",
        (BOT_ROLE,),
    ).scalar()
    if _role_exists(bind) and not grants_elsewhere:
        bind.exec_driver_sql(f"DROP ROLE {BOT_ROLE}")
