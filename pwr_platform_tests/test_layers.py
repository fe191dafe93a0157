"""The layering warehouse ← transforms ← defs ← cli, enforced by import-linter.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``); this test runs ``lint-imports``
so ``make test`` fails the moment a module imports a layer above its own. The second test shows
the check is not vacuous: a copy of the package with one upward import must break the contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = os.path.join(os.path.dirname(sys.executable), "lint-imports")
LAYERS_CONTRACT = "Data flows up: paths ← settings ← warehouse"
RUNTIME_CONTRACT = "The local stack knows nothing of the asset graph or the command line"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` over the ``pwr_platform`` package found under ``root``."""
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def broken_copy(tmp_path: Path, module: str, bad_import: str) -> Path:
    """A copy of the package and its pyproject with ``bad_import`` appended to ``module``."""
    shutil.copytree(
        REPO_ROOT / "pwr_platform",
        tmp_path / "pwr_platform",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "pwr_platform" / module
    target.write_text(target.read_text() + f"\n{bad_import}  # deliberately upward\n")
    return tmp_path


def test_the_package_keeps_its_layers():
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract", "chain"),
    [
        # a transform reaching up into the Dagster definitions
        (
            "transforms/__init__.py",
            "import pwr_platform.defs",
            LAYERS_CONTRACT,
            "pwr_platform.transforms -> pwr_platform.defs",
        ),
        # ingestion reaching up into the command line
        (
            "ingest/records.py",
            "from pwr_platform.cli import app",
            LAYERS_CONTRACT,
            "pwr_platform.ingest.records -> pwr_platform.cli",
        ),
        # the warehouse importing a sibling room above it
        (
            "warehouse/migrate.py",
            "import pwr_platform.transforms.events",
            LAYERS_CONTRACT,
            "pwr_platform.warehouse.migrate -> pwr_platform.transforms.events",
        ),
        # the local stack importing the asset graph
        (
            "runtime/services.py",
            "import pwr_platform.definitions",
            RUNTIME_CONTRACT,
            "pwr_platform.runtime.services -> pwr_platform.definitions",
        ),
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path, module, bad_import, contract, chain):
    root = broken_copy(tmp_path, module, bad_import)
    result = lint_imports(root)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert len(broken) == 1 and contract in " ".join(result.stdout.split()), result.stdout
    assert chain in result.stdout, result.stdout
