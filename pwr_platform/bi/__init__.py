"""Business intelligence: the Superset deployment, its read-only warehouse role and the dashboards as code."""
