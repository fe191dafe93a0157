"""Sensors of the code location (collected into Definitions by definitions.py)."""

from pwr_platform.defs.agg.automation import AGG_SENSORS

SENSORS: list = [*AGG_SENSORS]
