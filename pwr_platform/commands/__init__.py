"""``pwr`` sub-commands, one module per area; each is registered in cli.py with one line."""
