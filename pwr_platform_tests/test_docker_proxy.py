"""docker/Caddyfile, checked by Caddy itself (Debian's caddy, installed by `make proxy-tools`).

`caddy validate` proves the file parses and provisions with the production variables (ACME and
internal-CA variants). Then Caddy really runs it on free local ports with its internal CA, in
front of a stand-in upstream, and the tests speak HTTPS to it: the certificate verifies against
Caddy's root, plain HTTP redirects to HTTPS, the Dagster site refuses requests without the right
password and proxies them with it, and the Superset site is proxied without the proxy's password.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pwr_platform_tests.docker_support import CADDYFILE, load_compose, sample_env

CADDY = shutil.which("caddy")


def _require_caddy() -> str:
    if CADDY is None:
        pytest.fail("caddy is not installed: run `make proxy-tools` (as root it installs Debian's caddy)")
    return CADDY


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _proxy_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The proxy container's environment as compose renders it, plus test-only ports and dirs."""
    proxy = load_compose(sample_env())["services"]["proxy"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWR_")}
    env.update({k: str(v) for k, v in proxy["environment"].items()})
    env.update(
        XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path)
    )
    env.update(overrides)
    return env


def _validate(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_require_caddy(), "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("tls", ["ops@example.org", "internal"])
def test_caddy_validates_the_production_config(tmp_path, tls: str) -> None:
    result = _validate(_proxy_env(tmp_path, PWR_TLS=tls, PWR_PROXY_ADMIN=f"localhost:{_free_port()}"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


def test_caddy_rejects_the_config_without_a_password_hash(tmp_path) -> None:
    env = _proxy_env(tmp_path, PWR_DAGSTER_UI_PASSWORD_HASH="", PWR_PROXY_ADMIN=f"localhost:{_free_port()}")
    result = _validate(env)
    assert result.returncode != 0, "an empty password hash must not give a valid config"


def test_adapted_config_has_https_auth_and_both_upstreams(tmp_path) -> None:
    import json

    env = _proxy_env(tmp_path)
    result = subprocess.run(
        [_require_caddy(), "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    text = json.dumps(config)
    server = next(iter(config["apps"]["http"]["servers"].values()))
    assert server["listen"] == [":443"]
    assert '"handler": "authentication"' in text and '"http_basic"' in text
    assert "dagster-webserver:3000" in text and "superset:8088" in text
    policies = config["apps"]["tls"]["automation"]["policies"]
    assert any(i.get("module") == "internal" for p in policies for i in p.get("issuers", []))


# --------------------------------------------------------------------------- live HTTPS
class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = (
            f"upstream {self.server.label} saw {self.path} auth={self.headers.get('Authorization')}".encode()
        )
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _serve(label: str) -> tuple[http.server.HTTPServer, int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.label = label
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 while naming (SNI, certificate check, Host) the site's domain."""

    def __init__(self, domain: str, port: int, context: ssl.SSLContext) -> None:
        super().__init__(domain, port, context=context, timeout=30)

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@pytest.fixture(scope="module")
def running_proxy(tmp_path_factory) -> Iterator[dict]:
    _require_caddy()
    tmp = tmp_path_factory.mktemp("caddy")
    dagster, dagster_port = _serve("dagster")
    superset, superset_port = _serve("superset")
    ports = {"http": _free_port(), "https": _free_port(), "admin": _free_port()}
    env = _proxy_env(
        tmp,
        PWR_PROXY_HTTP_PORT=str(ports["http"]),
        PWR_PROXY_HTTPS_PORT=str(ports["https"]),
        PWR_PROXY_ADMIN=f"127.0.0.1:{ports['admin']}",
        PWR_DAGSTER_UPSTREAM=f"127.0.0.1:{dagster_port}",
        PWR_SUPERSET_UPSTREAM=f"127.0.0.1:{superset_port}",
    )
    log = open(tmp / "caddy.log", "wb")  # noqa: SIM115 - closed in the teardown below
    proc = subprocess.Popen(
        [CADDY, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    root = tmp / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        deadline = time.monotonic() + 60
        context = None
        while time.monotonic() < deadline and proc.poll() is None:
            if root.exists():
                context = ssl.create_default_context(cafile=str(root))
                try:
                    conn = _SNIConnection("superset.localhost", ports["https"], context)
                    conn.request("GET", "/")
                    conn.getresponse().read()
                    break
                except (OSError, ssl.SSLError):
                    pass
            time.sleep(0.5)
        else:
            pytest.fail(f"caddy did not serve HTTPS: {(tmp / 'caddy.log').read_text()[-3000:]}")
        yield {"ports": ports, "context": context}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        dagster.shutdown()
        superset.shutdown()


def _get(proxy: dict, domain: str, path: str, auth: tuple[str, str] | None = None):
    conn = _SNIConnection(domain, proxy["ports"]["https"], proxy["context"])
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    return resp, resp.read().decode()


def test_dagster_ui_needs_the_password(running_proxy: dict) -> None:
    resp, _ = _get(running_proxy, "dagster.localhost", "/server_info")
    assert resp.status == 401 and resp.getheader("WWW-Authenticate", "").startswith("Basic")
    resp, _ = _get(running_proxy, "dagster.localhost", "/server_info", ("ops", "wrong-password"))
    assert resp.status == 401
    resp, _ = _get(running_proxy, "dagster.localhost", "/server_info", ("someone", "test-password"))
    assert resp.status == 401


def test_dagster_ui_is_proxied_over_verified_https_with_the_password(running_proxy: dict) -> None:
    resp, body = _get(running_proxy, "dagster.localhost", "/server_info", ("ops", "test-password"))
    assert resp.status == 200
    assert body.startswith("upstream dagster saw /server_info")
    assert resp.getheader("Strict-Transport-Security", "").startswith("max-age=31536000")
    assert resp.getheader("X-Frame-Options") == "DENY"
    assert resp.getheader("Server") is None


def test_superset_is_proxied_without_the_proxy_password(running_proxy: dict) -> None:
    resp, body = _get(running_proxy, "superset.localhost", "/login/")
    assert resp.status == 200 and body == "upstream superset saw /login/ auth=None"
    assert resp.getheader("Strict-Transport-Security", "").startswith("max-age=31536000")


def test_plain_http_redirects_to_https(running_proxy: dict) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", running_proxy["ports"]["http"], timeout=30)
    conn.request("GET", "/server_info", headers={"Host": "dagster.localhost"})
    resp = conn.getresponse()
    assert resp.status in (301, 308)
    assert resp.getheader("Location", "").startswith("https://dagster.localhost")


def test_untrusted_clients_see_a_certificate_error(running_proxy: dict) -> None:
    strict = ssl.create_default_context()  # system roots only: Caddy's test CA is not among them
    conn = _SNIConnection("dagster.localhost", running_proxy["ports"]["https"], strict)
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/")
