"""The Superset dashboards, as external assets at the end of the graph."""
