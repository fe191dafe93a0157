"""Superset's deployment refuses insecure configurations, and the platform never ships a credential."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from pwr_platform.bi.secrets_store import get_or_create
from pwr_platform.bi.superset_service import ASSETS_DIR, CONFIG_FILE, VENV_DIR, superset_secrets
from pwr_platform.settings import PwrSettings

SUPERSET = VENV_DIR / "bin" / "superset"


def _superset_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERSET_", "PWR_SUPERSET_"))}
    env.update(
        SUPERSET_CONFIG_PATH=str(CONFIG_FILE), PWR_SUPERSET_HOME=str(tmp_path), FLASK_APP="superset", **extra
    )
    return env


@pytest.mark.timeout(120)
def test_superset_refuses_to_start_without_secret_key(tmp_path: Path):
    assert SUPERSET.exists(), "run `make superset-install` first"
    proc = subprocess.run(
        [str(SUPERSET), "db", "upgrade"],
        env=_superset_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode != 0
    assert "SUPERSET_SECRET_KEY is not set" in proc.stdout + proc.stderr
    assert not (tmp_path / "superset.db").exists()  # nothing was created


@pytest.mark.timeout(120)
def test_superset_refuses_a_short_secret_key(tmp_path: Path):
    proc = subprocess.run(
        [str(SUPERSET), "db", "upgrade"],
        env=_superset_env(tmp_path, SUPERSET_SECRET_KEY="changeme"),
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode != 0
    assert "SUPERSET_SECRET_KEY" in proc.stdout + proc.stderr


def test_secrets_are_generated_once_private_and_distinct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SUPERSET_SECRET_KEY", raising=False)
    settings = PwrSettings(home=tmp_path, superset_admin_password=None, superset_db_password=None)
    first = superset_secrets(settings)
    assert first.secret_key.generated and first.admin_password.generated and first.db_password.generated
    values = {first.secret_key.value, first.admin_password.value, first.db_password.value}
    assert len(values) == 3 and all(len(v) >= 24 for v in values)
    assert "admin" not in first.admin_password.value.lower()
    for name in ("superset_secret_key", "superset_admin_password", "superset_db_password"):
        assert stat.S_IMODE((settings.secrets_dir / name).stat().st_mode) == 0o600
    again = superset_secrets(settings)
    assert not again.admin_password.generated
    assert again.admin_password.value == first.admin_password.value


def test_environment_wins_over_generated_secret(tmp_path: Path):
    secret = get_or_create(tmp_path, "x", env_value="from-env")
    assert (secret.value, secret.source, secret.generated) == ("from-env", "environment", False)
    assert not (tmp_path / "x").exists()


def test_no_credentials_in_the_bundle_or_config():
    texts = {p: p.read_text() for p in [CONFIG_FILE, *ASSETS_DIR.rglob("*.yaml")]}
    for path, text in texts.items():
        for uri in re.findall(r"postgresql\S*://[^\s\"']+", text):
            assert ":XXXXXXXXXX@" in uri or "@" not in uri, f"{path}: a password in {uri}"
        assert "admin/admin" not in text and "CHANGE_ME" not in text, path
