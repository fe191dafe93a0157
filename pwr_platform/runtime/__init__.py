"""The local stack: embedded PostgreSQL, the Dagster instance file, and the service processes
(Dagster webserver and daemon, Superset) that ``pwr up`` / ``pwr down`` / ``pwr status`` manage.

Nothing here is needed in production (docker/ runs each service as its own container); it is what
makes ``make up`` work on a fresh machine.
"""
