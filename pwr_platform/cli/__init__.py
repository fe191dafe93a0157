"""The ``pwr`` command line, one module per command group (``app.py`` assembles them)."""

from pwr_platform.cli.app import main

__all__ = ["main"]
