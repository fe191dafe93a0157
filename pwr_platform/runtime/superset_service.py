"""Run Superset for the platform: secrets, first-run set-up, gunicorn on 127.0.0.1, health check.

Superset lives in its own virtualenv (``.venv-superset``, built by ``make superset-install``)
because it pins SQLAlchemy < 2 and pandas < 2.2; the platform only starts its processes. The
process is the ``superset`` service of :mod:`pwr_platform.runtime.services` (pid file in PWR_HOME/run,
log in PWR_HOME/logs/superset.log, health check ``/health``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pwr_platform.bi.reader_role import set_reader_password
from pwr_platform.bi.secrets_store import Secret, get_or_create
from pwr_platform.paths import REPO_ROOT
from pwr_platform.runtime.services import Service, check_port_free, start_service, stop_service
from pwr_platform.settings import PwrSettings, secret_value

SUPERSET_DIR = REPO_ROOT / "superset"
CONFIG_FILE = SUPERSET_DIR / "superset_config.py"
BOOTSTRAP_SCRIPT = SUPERSET_DIR / "bootstrap.py"
ASSETS_DIR = SUPERSET_DIR / "assets"
VENV_DIR = REPO_ROOT / ".venv-superset"
SERVICE_NAME = "superset"


class SupersetSetupError(RuntimeError):
    """Superset could not be installed, set up or started; the message says what to do."""


@dataclass(frozen=True)
class SupersetSecrets:
    secret_key: Secret
    admin_password: Secret
    db_password: Secret


def superset_secrets(settings: PwrSettings) -> SupersetSecrets:
    """The three Superset secrets: environment first, else PWR_HOME/secrets, else generated once."""
    return SupersetSecrets(
        secret_key=get_or_create(
            settings.secrets_dir, "superset_secret_key", os.environ.get("SUPERSET_SECRET_KEY"), nbytes=48
        ),
        admin_password=get_or_create(
            settings.secrets_dir,
            "superset_admin_password",
            secret_value(settings.superset_admin_password),
            nbytes=18,
        ),
        db_password=get_or_create(
            settings.secrets_dir, "superset_db_password", secret_value(settings.superset_db_password)
        ),
    )


def superset_url(settings: PwrSettings) -> str:
    """The local gunicorn, unless PWR_SUPERSET_URL names another server (e.g. compose's superset)."""
    return (settings.superset_url or f"http://127.0.0.1:{settings.superset_port}").rstrip("/")


def superset_bin(name: str) -> Path:
    path = VENV_DIR / "bin" / name
    if not path.exists():
        raise SupersetSetupError(
            f"{path} is missing: run `make superset-install` (Superset's own virtualenv)"
        )
    return path


def superset_env(settings: PwrSettings, secret_key: str) -> dict[str, str]:
    """Environment of every Superset process (superset_config.py reads only these)."""
    env = {
        "SUPERSET_CONFIG_PATH": str(CONFIG_FILE),
        "SUPERSET_SECRET_KEY": secret_key,
        "PWR_HOME": str(settings.home),
        "PWR_SUPERSET_HOME": str(settings.superset_home),
        "FLASK_APP": "superset.app:create_app()",
        "SUPERSET_ENV": "production",
        "PYTHONPATH": "",
        "VIRTUAL_ENV": str(VENV_DIR),
    }
    if metadata_url := secret_value(settings.superset_metadata_url):
        env["PWR_SUPERSET_METADATA_URL"] = metadata_url
    return env


def superset_health_url(settings: PwrSettings) -> str:
    return f"http://127.0.0.1:{settings.superset_port}/health"


def superset_service(settings: PwrSettings) -> Service:
    port = settings.superset_port
    argv = [
        str(superset_bin("gunicorn")),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(settings.superset_workers),
        "--worker-class",
        "gthread",
        "--threads",
        "8",
        "--timeout",
        "120",
        "--graceful-timeout",
        "10",
        "--chdir",
        str(settings.superset_home),
        "--limit-request-line",
        "0",
        "--limit-request-field_size",
        "0",
        "superset.app:create_app()",
    ]
    return Service(SERVICE_NAME, argv, health_url=superset_health_url(settings))


def _setup_fingerprint(settings: PwrSettings, secrets: SupersetSecrets) -> str:
    """Changes when Superset's version, the metadata DB or the admin credentials change."""
    version = (VENV_DIR / ".installed").stat().st_mtime_ns if (VENV_DIR / ".installed").exists() else 0
    material = "\n".join(
        [
            str(version),
            secret_value(settings.superset_metadata_url) or str(settings.superset_home / "superset.db"),
            settings.superset_admin_user,
            secrets.admin_password.value,
        ]
    )
    return hashlib.sha256((secrets.secret_key.value + material).encode()).hexdigest()


def setup_metadata(settings: PwrSettings, secrets: SupersetSecrets, echo=print) -> bool:
    """``superset db upgrade`` + ``init`` + admin user, when anything changed since the last run.

    Returns True when the set-up ran. A fingerprint file (a keyed hash, not the password) records
    the last successful set-up, so a normal ``pwr up`` skips the ~25 s it takes.
    """
    settings.superset_home.mkdir(parents=True, exist_ok=True)
    marker = settings.superset_home / "setup.fingerprint"
    fingerprint = _setup_fingerprint(settings, secrets)
    sqlite_file = settings.superset_home / "superset.db"
    fresh_sqlite = not settings.superset_metadata_url and not sqlite_file.exists()
    if not fresh_sqlite and marker.exists() and marker.read_text().strip() == fingerprint:
        return False
    echo("Setting up Superset's metadata database (migrations, roles, admin user) …")
    env = {
        **os.environ,
        **superset_env(settings, secrets.secret_key.value),
        "PWR_SUPERSET_ADMIN_USER": settings.superset_admin_user,
        "PWR_SUPERSET_ADMIN_PASSWORD": secrets.admin_password.value,
    }
    log_path = settings.log_dir / "superset-setup.log"
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.run(
            [str(superset_bin("python")), str(BOOTSTRAP_SCRIPT)],
            env=env,
            cwd=settings.superset_home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise SupersetSetupError(
            f"Superset set-up failed (exit {proc.returncode}); end of {log_path}:\n{tail}"
        )
    marker.write_text(fingerprint + "\n")
    return True


def start_superset(settings: PwrSettings, warehouse_admin_url: str, echo=print) -> SupersetSecrets:
    """Set the reader role's password, set up the metadata, start gunicorn, wait for /health."""
    check_port_free(settings, SERVICE_NAME, echo)  # before the set-up's half minute, not after
    secrets = superset_secrets(settings)
    set_reader_password(warehouse_admin_url, secrets.db_password.value)
    setup_metadata(settings, secrets, echo=echo)
    echo(f"Starting Superset on {superset_url(settings)} …")
    start_service(
        settings, superset_service(settings), superset_env(settings, secrets.secret_key.value), timeout=180
    )
    return secrets


def stop_superset(settings: PwrSettings, echo=print) -> bool:
    return stop_service(settings, SERVICE_NAME, echo=echo)
