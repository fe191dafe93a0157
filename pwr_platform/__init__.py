"""PwR Platform: turns the PwR community's Discord voice stream into a PostgreSQL warehouse."""

__version__ = "0.1.0"
