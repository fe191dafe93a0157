"""The warehouse: where the PostgreSQL server is, its schema (Alembic), and the embedded server."""
