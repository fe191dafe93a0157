"""Sensors of the code location (collected into Definitions by definitions.py)."""

SENSORS: list = []
