"""pwr_agg layer: daily / weekly / monthly aggregates and the dashboard tables."""
