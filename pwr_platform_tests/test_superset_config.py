"""Superset's deployment refuses insecure configurations, and the platform never ships a credential."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from pwr_platform.bi.secrets_store import get_or_create
from pwr_platform.runtime.superset_service import ASSETS_DIR, CONFIG_FILE, VENV_DIR, superset_secrets
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


# A real Superset app built from superset_config.py as compose runs it (behind the proxy), asked
# for login attempts by two clients that both arrive from the proxy's address.
_PROXY_DRILL = r"""
import hashlib, json, os
from itsdangerous import URLSafeTimedSerializer
from superset.app import create_app
from werkzeug.middleware.proxy_fix import ProxyFix

app = create_app()
keys = ("ENABLE_PROXY_FIX", "PROXY_FIX_CONFIG", "RATELIMIT_ENABLED", "AUTH_RATE_LIMITED", "AUTH_RATE_LIMIT")
out = {key: app.config[key] for key in keys}
out["wsgi_app"] = type(app.wsgi_app).__name__
out["x_for"] = getattr(app.wsgi_app, "x_for", None)
client = app.test_client()
# a valid CSRF token, made as Flask-WTF makes it, so the form's POST reaches the login itself
raw = hashlib.sha1(os.urandom(64)).hexdigest()
with client.session_transaction() as session:
    session["csrf_token"] = raw
token = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)

def attempt(path, client_ip):
    if path.startswith("/api/"):
        body = {"json": {"username": "nobody", "password": "wrong", "provider": "db"}}
    else:
        body = {"data": {"username": "nobody", "password": "wrong", "csrf_token": token}}
    resp = client.post(
        path, headers={"X-Forwarded-For": client_ip}, environ_base={"REMOTE_ADDR": "172.18.0.9"}, **body
    )
    return resp.status_code

for path in ("/api/v1/security/login", "/login/"):
    out[path] = {
        "first_client": [attempt(path, "203.0.113.7") for _ in range(4)],
        "second_client": [attempt(path, "203.0.113.8")],
    }
print("DRILL " + json.dumps(out))
"""


@pytest.mark.timeout(1500)
def test_behind_the_proxy_login_attempts_are_limited_per_real_client(tmp_path: Path):
    """ProxyFix takes the client from X-Forwarded-For, so the login limit counts per client: one
    client over the limit gets 429 on the API login and the form, the next client is not blocked."""
    env = _superset_env(
        tmp_path,
        SUPERSET_SECRET_KEY="s" * 48,
        PWR_SUPERSET_BEHIND_PROXY="true",
        PWR_SUPERSET_LOGIN_RATE_LIMIT="3 per minute",
    )
    proc = subprocess.run(
        [str(VENV_DIR / "bin" / "python"), "-c", _PROXY_DRILL],
        env=env,
        capture_output=True,
        text=True,
        timeout=1400,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("DRILL ")]
    out = json.loads(line.removeprefix("DRILL "))
    assert out["ENABLE_PROXY_FIX"] is True and out["wsgi_app"] == "ProxyFix" and out["x_for"] == 1
    assert out["RATELIMIT_ENABLED"] and out["AUTH_RATE_LIMITED"] and out["AUTH_RATE_LIMIT"] == "3 per minute"
    for path in ("/api/v1/security/login", "/login/"):
        first, second = out[path]["first_client"], out[path]["second_client"]
        assert 429 not in first[:3] and first[3] == 429, f"{path}: {first}"
        assert second[0] != 429, f"{path}: the second client was blocked by the first one's attempts"
