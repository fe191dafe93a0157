"""Where the checkout lives: the one notion of the repository root.

The platform runs from a checkout (``make up``), and several rooms need files beside the package
(``workspace.yaml``, ``superset/``, the ``.pwr`` state folder); they all ask here, so the answer
cannot drift between them.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The folder holding ``pyproject.toml`` and the ``pwr_platform`` package."""
