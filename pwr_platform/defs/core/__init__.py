"""pwr_core layer: members, voice sessions, events, attendance."""
