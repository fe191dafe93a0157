"""pwr_raw layer: source assets observed from the raw tables the writers fill."""
