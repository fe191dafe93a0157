"""Dota League Insights (group ``dota``): OpenDota documents → heroes, leagues, matches, players."""
