"""The repository is a `dg` project: `dg check defs` and `dg list defs` pass on the code location.

Run as subprocesses, the way a Dagster engineer (and CI, through `make test`) runs them, so a
broken ``[tool.dg]`` table, a module under ``defs/`` that fails to import, or a definition the
loader rejects fails here rather than in `dg dev`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pwr_platform.paths import REPO_ROOT

DG = Path(sys.executable).parent / "dg"


def run_dg(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIRTUAL_ENV": str(Path(sys.executable).parent.parent), "NO_COLOR": "1"}
    return subprocess.run(
        [str(DG), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_dg_check_defs_passes() -> None:
    result = run_dg("check", "defs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_dg_list_defs_shows_the_graph_schedules_and_sensors() -> None:
    result = run_dg("list", "defs", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    listed = json.loads(result.stdout)
    assets = {a["asset_key"]: a for a in listed["assets"]}
    assert assets["pwr_agg/member_voice_daily"]["group_name"] == "pwr_agg"
    assert "pwr_core/voice_sessions" in assets["pwr_agg/member_voice_daily"]["dependency_keys"]
    assert {s["name"] for s in listed["schedules"]} == {
        "daily_aggregates_schedule",
        "weekly_engagement_schedule",
        "monthly_status_schedule",
        "weekly_digest_schedule",
        "dota_refresh_schedule",
    }
    assert assets["pwr_dota/match_players"]["group_name"] == "dota"
    assert {
        "core_refresh_sensor",
        "event_attendance_sensor",
        "late_data_aggregates_sensor",
        "dota_automation",
    } <= {s["name"] for s in listed["sensors"]}
