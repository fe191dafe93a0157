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
  PWR_SUPERSET_BEHIND_PROXY      true behind the TLS proxy (compose): client addresses from
                                 X-Forwarded-For (ProxyFix, one trusted hop)
  PWR_SUPERSET_LOGIN_RATE_LIMIT  login attempts per client (default "20 per minute")
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

if SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
    # The local stack's SQLite metadata is read and written by every gunicorn thread at once
    # (each request logs an action row). In SQLite's default rollback journal a writer blocks
    # readers while it commits and a second writer fails with "database is locked" after five
    # seconds — under load, a dashboard's own metadata requests fail that way. Write-ahead
    # logging lets readers go on beside the writer, and writers wait up to 30 s for each other.
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"timeout": 30}}

    @event.listens_for(Engine, "connect")
    def _sqlite_write_ahead_log(dbapi_connection, _record) -> None:
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()


APP_NAME = "PwR Analytics"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}


# --- security -----------------------------------------------------------------------------
WTF_CSRF_ENABLED = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _flag("PWR_SUPERSET_HTTPS")

# Behind the TLS proxy (compose: PWR_SUPERSET_BEHIND_PROXY=true) every request reaches gunicorn
# from the proxy's address: without ProxyFix all visitors would share one login limit (one
# attacker locks everybody out, and nobody is limited apart) and URLs would be built for http.
# Caddy (docker/Caddyfile) sets X-Forwarded-For/-Proto/-Host itself and trusts none a client
# sends, so exactly one hop is trusted. Off when Superset is reached directly (`pwr up` binds
# 127.0.0.1): there a client could forge the header.
ENABLE_PROXY_FIX = _flag("PWR_SUPERSET_BEHIND_PROXY")
PROXY_FIX_CONFIG = {"x_for": 1, "x_proto": 1, "x_host": 1, "x_port": 1, "x_prefix": 0}

# Login attempts per client address (Flask-Limiter's key is request.remote_addr: the real client
# once ProxyFix has applied X-Forwarded-For). Superset applies AUTH_RATE_LIMIT to the POSTs of its
# own /login/ view, which only answers GET: the form's POST is served by Flask-AppBuilder's
# AuthDBView and the API login by SecurityApi, and neither is limited. FLASK_APP_MUTATOR below
# puts the limit on whatever serves POST on each login path. Counts are kept per gunicorn worker
# (memory): with W workers a client gets at most W times the limit (Redis would make it exact).
RATELIMIT_ENABLED = True
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = os.environ.get("PWR_SUPERSET_LOGIN_RATE_LIMIT", "20 per minute")
RATELIMIT_STORAGE_URI = "memory://"
LOGIN_PATHS = ("/login/", "/api/v1/security/login")


def FLASK_APP_MUTATOR(app) -> None:  # noqa: N802 - the name Superset looks for
    """Limit login POSTs per client on every login path (Superset calls this once the views exist)."""
    from werkzeug.exceptions import HTTPException

    urls = app.url_map.bind("localhost")
    for path in LOGIN_PATHS:
        try:
            endpoint, _ = urls.match(path, method="POST")
        except HTTPException:  # not routed: an app built for a CLI command has no login views
            continue
        blueprint = app.blueprints.get(endpoint.rpartition(".")[0])
        if blueprint is None:
            raise RuntimeError(
                f"POST {path} is served by {endpoint}, outside a blueprint: it would be unlimited"
            )
        app.appbuilder.sm.limiter.limit(AUTH_RATE_LIMIT, methods=["POST"])(blueprint)


# The prebuilt front end always renders a telemetry pixel (a third-party image) in the navbar:
# the content security policy below blocks it, so the browser never sends the request.
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
