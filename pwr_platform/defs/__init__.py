"""Dagster definitions grouped by warehouse layer (raw, core, agg) plus cross-cutting automation."""
