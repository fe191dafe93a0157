"""Every Dagster run worker and sensor evaluation imports the code location: it loads what the asset
definitions need and nothing else (issue 16 — each import is CPU on the small server, once per run).

Runs in a fresh interpreter, as a run worker does: the HTTP clients, the bot, the CLI, migrations
and the SQL parser (its lineage answers are cached on disk) stay unloaded until a step or command
that needs them runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pwr_platform.paths import REPO_ROOT

NOT_AT_IMPORT = ("requests", "discord", "aiohttp", "alembic", "sqlglot", "pandas")

PROBE = """
import json, sys
from pwr_platform.definitions import defs
defs()
print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(home: Path) -> set[str]:
    env = {"PATH": "/usr/bin:/bin", "PWR_HOME": str(home), "PWR_GUILD_ID": "811111111111111111"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_code_location_loads_no_http_client_bot_cli_or_parser(tmp_path: Path) -> None:
    loaded_modules(tmp_path)  # the first import fills the lineage cache (sqlglot runs then)
    modules = loaded_modules(tmp_path)
    assert "pwr_platform.definitions" in modules  # the probe did import the code location
    tops = {m.split(".")[0] for m in modules}
    assert not tops & set(NOT_AT_IMPORT), sorted(tops & set(NOT_AT_IMPORT))
    ours = sorted(m for m in modules if m.startswith(("pwr_platform.ingest.bot", "pwr_platform.cli")))
    assert ours == [], ours
    assert "pwr_platform.ingest.dota.client" not in modules
