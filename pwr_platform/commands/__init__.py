"""The ``pwr`` subcommands, one module per area (registered in ``pwr_platform/cli.py``)."""
