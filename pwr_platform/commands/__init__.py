"""``pwr`` subcommands, one module per area, each registered in ``cli.py`` with one line."""
