"""Schedules and jobs of the code location (collected into Definitions by definitions.py)."""

from pwr_platform.defs.agg.automation import AGG_JOBS, AGG_SCHEDULES

SCHEDULES: list = [*AGG_SCHEDULES]
JOBS: list = [*AGG_JOBS]
