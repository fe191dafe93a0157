"""Partitions definitions shared by assets and sensors."""

from dagster import DynamicPartitionsDefinition

# One partition per pwr_core.events.event_id; the attendance sensor adds them as events appear.
event_partitions = DynamicPartitionsDefinition(name="events")
