"""``pwr`` sub-commands, one module per area (registered in cli.py with one line each)."""
