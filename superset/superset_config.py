"""Superset configuration for PwR Platform: everything comes from the environment.

Superset imports this file (``SUPERSET_CONFIG_PATH``) inside its own virtualenv
(``.venv-superset``), where the platform's package is not installed, so it reads plain
environment variables. ``pwr superset start`` sets them from the platform's settings and the
secrets it keeps in ``PWR_HOME/secrets``; a production deployment sets them in its env file.

Refuses to start without ``SUPERSET_SECRET_KEY``: Superset's built-in fallback key is public,
and a known key lets anyone forge a session cookie (i.e. log in as the admin).

Variables:
  SUPERSET_SECRET_KEY            required; signs sessions and encrypts stored DB passwords
  PWR_SUPERSET_METADATA_URL      SQLAlchemy URL of Superset's own metadata database
                                 (default: SQLite file PWR_SUPERSET_HOME/superset.db)
  PWR_SUPERSET_HOME              Superset's state directory (default: PWR_HOME/superset)
  PWR_HOME                       platform state directory (default: ./.pwr beside superset/)
"""

from __future__ import annotations

import os
from pathlib import Path

_secret_key = os.environ.get("SUPERSET_SECRET_KEY", "").strip()
if len(_secret_key) < 32:
    raise RuntimeError(
        "SUPERSET_SECRET_KEY is not set (or shorter than 32 characters): Superset refuses to start "
        "without its own secret key. `pwr superset start` generates one into PWR_HOME/secrets; "
        "in production set it in the environment (e.g. `openssl rand -base64 42`)."
    )
SECRET_KEY = _secret_key

_pwr_home = Path(os.environ.get("PWR_HOME") or Path(__file__).resolve().parent.parent / ".pwr")
_superset_home = Path(os.environ.get("PWR_SUPERSET_HOME") or _pwr_home / "superset")
DATA_DIR = str(_superset_home)

SQLALCHEMY_DATABASE_URI = os.environ.get("PWR_SUPERSET_METADATA_URL") or (
    f"sqlite:///{_superset_home / 'superset.db'}?check_same_thread=false"
)

APP_NAME = "PwR Analytics"

# --- security -----------------------------------------------------------------------------
WTF_CSRF_ENABLED = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = os.environ.get("PWR_SUPERSET_HTTPS", "").lower() in {"1", "true", "yes"}
# The prebuilt front end always renders a telemetry pixel (a third-party image) in the navbar:
# the content security policy below blocks it, so the browser never sends the request.
# Login form rate limit per client (Superset's default limiter keeps counts in memory).
RATELIMIT_ENABLED = True
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = "10 per second"
RATELIMIT_STORAGE_URI = "memory://"

# Talisman on, with a content security policy that allows only this server: Superset's default
# policy also allows map tiles, Mapbox, a telemetry pixel, web fonts and a docs CDN. None of the
# PwR dashboards use them, and a dashboard must not make the browser talk to third parties.
TALISMAN_ENABLED = True
CONTENT_SECURITY_POLICY_WARNING = True
_SELF_ONLY_CSP = {
    "base-uri": ["'self'"],
    "default-src": ["'self'"],
    "img-src": ["'self'", "blob:", "data:"],
    "worker-src": ["'self'", "blob:"],
    "connect-src": ["'self'"],
    "object-src": "'none'",
    "style-src": ["'self'", "'unsafe-inline'"],
    "font-src": ["'self'", "data:"],
    "script-src": ["'self'", "'strict-dynamic'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'self'"],
}
TALISMAN_CONFIG = {
    "content_security_policy": _SELF_ONLY_CSP,
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": SESSION_COOKIE_SECURE,
}
TALISMAN_DEV_CONFIG = TALISMAN_CONFIG
THEME_FONT_URL_ALLOWED_DOMAINS: list[str] = []

# Datasets may only reach real databases (never Superset's own SQLite metadata).
PREVENT_UNSAFE_DB_CONNECTIONS = True

# --- behaviour ------------------------------------------------------------------------------
FEATURE_FLAGS = {
    # render every chart at once (the dashboards are small): no blank tiles while scrolling
    "DASHBOARD_VIRTUALIZATION": False,
    "DASHBOARD_RBAC": False,
    "ENABLE_TEMPLATE_PROCESSING": False,
    "ALERT_REPORTS": False,
}
# Query results cached in-process for five minutes: dashboards re-opened during a meeting are
# instant, and a Dagster run shows within minutes. A production deployment can use Redis here.
DATA_CACHE_CONFIG = {
    "CACHE_TYPE": "SimpleCache",
    "CACHE_DEFAULT_TIMEOUT": int(os.environ.get("PWR_SUPERSET_CACHE_SECONDS", "300")),
}
SUPERSET_WEBSERVER_TIMEOUT = 120
ROW_LIMIT = 50000
