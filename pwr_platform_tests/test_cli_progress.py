"""Progress bars with ETA on a terminal; on a pipe the plain lines stay as they were.

The commands run as a user runs them, once with stdout and stderr on a pseudo-terminal (what a
person at a terminal has) and once on pipes (what scripts, logs and the other tests read).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import psycopg

from pwr_platform_tests.conftest import REPO_ROOT, run_pwr

PWR = os.path.join(os.path.dirname(sys.executable), "pwr")


def run_on_terminal(settings: dict[str, str], *args: str, timeout: float = 600) -> tuple[int, str]:
    """``pwr ARGS`` with stdout and stderr on one pseudo-terminal; (exit code, all it showed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWR_")}
    env.update(settings, TERM="xterm-256color", COLUMNS="120")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([PWR, *args], cwd=REPO_ROOT, env=env, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end closed (the process exited)
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=timeout), b"".join(chunks).decode("utf-8", "replace")


def _voice_lines(path: Path, count: int) -> Path:
    with path.open("w") as fh:
        for i in range(count):
            fh.write(
                json.dumps(
                    {
                        "event_type": "join" if i % 2 == 0 else "leave",
                        "event_ts": f"2026-11-01T{10 + i // 3600 % 10:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                        "discord_guild_id": "811111111111111111",
                        "discord_user_id": str(822222222222222222 + i // 2),
                        "discord_channel_id": "833333333333333333",
                    }
                )
                + "\n"
            )
    return path


def test_simulate_shows_a_bar_with_eta_on_a_terminal(warehouse_url, tmp_path):
    settings = {"PWR_DATABASE_URL": warehouse_url, "PWR_HOME": str(tmp_path)}
    code, shown = run_on_terminal(
        settings, "simulate", "--members", "40", "--days", "14", "--end", "2026-11-01"
    )
    assert code == 0, shown
    assert "members" in shown and "ETA" in shown and "40/40" in shown
    assert "━" in shown  # the bar itself
    assert "Done in" in shown
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) > 0 FROM pwr_raw.discord_voice_events").fetchone()[0]


def test_simulate_on_a_pipe_prints_plain_lines(warehouse_url, tmp_path):
    settings = {"PWR_DATABASE_URL": warehouse_url, "PWR_HOME": str(tmp_path)}
    result = run_pwr(settings, "simulate", "--members", "40", "--days", "14", "--end", "2026-11-01")
    assert result.returncode == 0, result.stderr
    assert "ETA" not in result.stdout + result.stderr and "━" not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout + result.stderr  # no terminal control sequences
    assert result.stdout.startswith("Simulating 40 members over 14 days ending 2026-11-01 00:00 UTC")


def test_ingest_shows_a_bar_per_file_on_a_terminal(warehouse_url, tmp_path):
    settings = {"PWR_DATABASE_URL": warehouse_url, "PWR_HOME": str(tmp_path)}
    log = _voice_lines(tmp_path / "voice.jsonl", 25_000)
    code, shown = run_on_terminal(settings, "ingest", str(log))
    assert code == 0, shown
    assert "voice.jsonl" in shown and "ETA" in shown and "100%" in shown and "25,000 lines" in shown
    assert "read 25,000, inserted 25,000" in shown  # the summary line, as on a pipe
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM pwr_raw.discord_voice_events").fetchone()[0] == 25_000


def test_ingest_on_a_pipe_prints_plain_lines(warehouse_url, tmp_path):
    settings = {"PWR_DATABASE_URL": warehouse_url, "PWR_HOME": str(tmp_path)}
    log = _voice_lines(tmp_path / "voice.jsonl", 100)
    result = run_pwr(settings, "ingest", str(log))
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout + result.stderr and "ETA" not in result.stderr
    assert "read 100, inserted 100, duplicates 0, rejected 0" in result.stdout


def test_materialize_advances_one_step_per_asset_and_prints_its_lines_above_the_bar():
    import io

    from dagster import Definitions, asset, instance_for_test
    from rich.console import Console

    from pwr_platform.cli.materialize import materialize_graph
    from pwr_platform.cli.progress import progress_bar

    @asset
    def first() -> None:
        return None

    @asset(deps=[first])
    def second() -> None:
        return None

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with instance_for_test() as instance, progress_bar("assets", None, console=console) as bar:
        ok = materialize_graph(Definitions(assets=[first, second]), instance, None, echo=bar.echo, bar=bar)
        task = bar.progress.tasks[0]
    assert ok
    assert (task.completed, task.total) == (2, 2)
    shown = screen.getvalue()
    assert "[1/2] first: (not partitioned) … ok in" in shown
    assert "[2/2] second: (not partitioned) … ok in" in shown
    assert "ETA" in shown and "2/2" in shown
