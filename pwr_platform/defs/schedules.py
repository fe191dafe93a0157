"""Schedules and jobs of the code location (collected into Definitions by definitions.py)."""

SCHEDULES: list = []
JOBS: list = []
