"""One real Superset for every Superset test module: fixtures, browser helpers.

Starting Superset (metadata set-up, gunicorn, bundle import) costs tens of seconds on this
machine, and the demo warehouse under it a minute more, so they are session-scoped and shared by
every module that asks for ``superset`` (registered in ``conftest.py``). Starts Superset exactly as
``pwr superset start`` does, on a warehouse built the way users get one (``pwr simulate`` and
every asset materialized through Dagster).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pwr_platform.bi import bundle
from pwr_platform.bi.superset_api import SupersetClient
from pwr_platform.runtime.superset_service import (
    ASSETS_DIR,
    SupersetSecrets,
    start_superset,
    stop_superset,
    superset_url,
)
from pwr_platform.settings import PwrSettings
from pwr_platform_tests.conftest import worker_port
from pwr_platform_tests.demo_warehouse import build_demo_warehouse, scratch_warehouse

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / ".pwr" / "test-artifacts" / "superset"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class RunningSuperset:
    settings: PwrSettings
    secrets: SupersetSecrets
    warehouse_url: str
    base_url: str

    def client(self) -> SupersetClient:
        return SupersetClient(
            self.base_url, self.settings.superset_admin_user, self.secrets.admin_password.value
        )

    def import_bundle(self, assets_dir: Path = ASSETS_DIR) -> dict:
        return bundle.import_bundle(
            self.client(), assets_dir, self.warehouse_url, self.secrets.db_password.value
        )


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="session")
def populated_warehouse(
    pg_server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with scratch_warehouse(pg_server_url, template_db, "pwr_test_superset") as url:
        build_demo_warehouse(url, tmp_path_factory.mktemp("demo_home"))
        yield url


@pytest.fixture(scope="session")
def superset(populated_warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSuperset]:
    port = worker_port("PWR_TEST_SUPERSET_PORT", 18088)
    assert _free(port), f"127.0.0.1:{port} is taken: set PWR_TEST_SUPERSET_PORT to a free port"
    home = tmp_path_factory.mktemp("pwr_home")
    settings = PwrSettings(
        home=home,
        database_url=populated_warehouse,
        superset_port=port,
        superset_admin_user="pwr_test_admin",
        superset_admin_password=None,
        superset_db_password=None,
        superset_metadata_url=None,
    )
    t0 = time.monotonic()
    # The tests log in (browser and REST) far more often than a person: the per-client login
    # limit (tested on its own in test_superset_config.py) would refuse them with 429.
    limit_was = os.environ.get("PWR_SUPERSET_LOGIN_RATE_LIMIT")
    os.environ["PWR_SUPERSET_LOGIN_RATE_LIMIT"] = "10000 per minute"
    try:
        try:
            secrets = start_superset(settings, populated_warehouse, echo=lambda _msg: None)
        finally:  # the server has its environment now; nothing else in the run sees the setting
            if limit_was is None:
                os.environ.pop("PWR_SUPERSET_LOGIN_RATE_LIMIT")
            else:
                os.environ["PWR_SUPERSET_LOGIN_RATE_LIMIT"] = limit_was
        running = RunningSuperset(settings, secrets, populated_warehouse, superset_url(settings))
        running.import_bundle()
        print(f"\nSuperset up and bundle imported in {time.monotonic() - t0:.1f}s")
        yield running
    finally:
        stop_superset(settings)


def chart_state(page) -> list[dict]:
    """Per chart tile: title, whether it rendered something, and any error / empty text."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-test="chart-grid-component"]')).map(tile => {
            const title = (tile.querySelector('[data-test="editable-title"]') || {}).innerText || '?';
            const text = tile.innerText || '';
            const loading = !!tile.querySelector('[data-test="loading-indicator"], .loading');
            const rendered = !!tile.querySelector('canvas, svg.echarts, table tbody tr td, .header-line');
            const error = tile.querySelector('[role="alert"], .ant-alert-error, [data-test="error-tooltip"]');
            const empty = /No results|No data/i.test(text);
            return {title, loading, rendered, error: error ? (error.innerText || 'error') : null, empty};
        })"""
    )


def wait_for_charts(page, expected_charts: int, timeout_s: float = 90) -> list[dict]:
    """Wait until every tile has rendered, errored or said it is empty; returns the final states.

    When no tile shows at all, the page is loaded once more before giving up: on a busy 2-core
    machine a dashboard request can be lost while Superset's worker is still busy with a bundle
    import (seen once in CI), and a person would press reload too. A second miss fails, with a
    screenshot of what the page showed kept under ``.pwr/test-artifacts``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_selector('[data-test="chart-grid-component"]', timeout=60_000)
    except PlaywrightTimeout:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"no-chart-grid-{int(time.time())}.png"), full_page=True)
        page.reload(wait_until="load")
        page.wait_for_selector('[data-test="chart-grid-component"]', timeout=90_000)
    deadline = time.monotonic() + timeout_s
    while True:
        states = chart_state(page)
        done = len(states) == expected_charts and all(
            s["error"] or s["empty"] or (s["rendered"] and not s["loading"]) for s in states
        )
        if done or time.monotonic() > deadline:
            return states
        page.wait_for_timeout(500)


def log_in(page, superset: RunningSuperset, attempts: int = 3) -> None:
    """Sign in through the login form. Tried again when the welcome page does not follow: on a
    busy machine the first submit can be lost while the form page is still loading."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(1, attempts + 1):
        page.goto(f"{superset.base_url}/login/", wait_until="load")
        page.locator("#username").fill(superset.settings.superset_admin_user)
        page.locator("#password").fill(superset.secrets.admin_password.value)
        page.get_by_role("button", name="Sign in").click()
        try:
            page.wait_for_url("**/superset/welcome/**", timeout=60_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts:
                raise
