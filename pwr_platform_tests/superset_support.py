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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from pwr_platform.bi import bundle
from pwr_platform.bi.superset_api import SupersetApiError, SupersetClient
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
from pwr_platform_tests.superset_bundle import dashboards

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
        counts = bundle.import_bundle(
            self.client(), assets_dir, self.warehouse_url, self.secrets.db_password.value
        )
        self.wait_until_dashboards_served(assets_dir)
        return counts

    def wait_until_dashboards_served(self, assets_dir: Path = ASSETS_DIR, timeout_s: float = 120) -> None:
        """Until the API a dashboard page loads from answers, for every dashboard of the bundle,
        with all its charts: a browser test that opens a dashboard right after a re-import then
        waits for the page, not for a server still busy with the import (the CI miss: no chart
        tile within 60 s of a re-import). Raises when that takes over ``timeout_s``."""
        client = self.client()
        wanted = {d.slug: len({c.config["uuid"] for c in d.charts.values()}) for d in dashboards(assets_dir)}
        deadline = time.monotonic() + timeout_s
        while True:
            served: dict[str, object] = {}
            for slug in wanted:
                try:
                    served[slug] = len(client.get(f"/api/v1/dashboard/{slug}/charts")["result"])
                except (SupersetApiError, requests.RequestException) as exc:
                    served[slug] = str(exc)[:200]
            if served == wanted:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"dashboards not served {timeout_s:.0f}s after the import: {served}")
            time.sleep(1)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="session")
def superset_warehouse(pg_server_url: str, template_db: str) -> Iterator[str]:
    """The Superset tests' warehouse database, migrated; ``populated_warehouse`` fills it."""
    with scratch_warehouse(pg_server_url, template_db, "pwr_test_superset") as url:
        yield url


@pytest.fixture(scope="session")
def populated_warehouse(superset_warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    build_demo_warehouse(superset_warehouse, tmp_path_factory.mktemp("demo_home"))
    return superset_warehouse


def _start_superset(settings: PwrSettings, warehouse_url: str) -> SupersetSecrets:
    # The tests log in (browser and REST) far more often than a person: the per-client login
    # limit (tested on its own in test_superset_config.py) would refuse them with 429.
    limit_was = os.environ.get("PWR_SUPERSET_LOGIN_RATE_LIMIT")
    os.environ["PWR_SUPERSET_LOGIN_RATE_LIMIT"] = "10000 per minute"
    try:
        return start_superset(settings, warehouse_url, echo=lambda _msg: None)
    finally:  # the server has its environment now; nothing else in the run sees the setting
        if limit_was is None:
            os.environ.pop("PWR_SUPERSET_LOGIN_RATE_LIMIT")
        else:
            os.environ["PWR_SUPERSET_LOGIN_RATE_LIMIT"] = limit_was


@pytest.fixture(scope="session")
def superset(
    superset_warehouse: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningSuperset]:
    """Superset on the demo warehouse, its bundle imported.

    Superset's start (metadata set-up, gunicorn, /health) needs the warehouse's roles and tables,
    not its rows, and spends its time in Superset's own processes: so it runs in a thread while
    this one builds the demo warehouse (``populated_warehouse``), which takes a minute off the
    longest stretch of the parallel suite. The bundle is imported once both are done."""
    port = worker_port("PWR_TEST_SUPERSET_PORT", 18088)
    assert _free(port), f"127.0.0.1:{port} is taken: set PWR_TEST_SUPERSET_PORT to a free port"
    home = tmp_path_factory.mktemp("pwr_home")
    settings = PwrSettings(
        home=home,
        database_url=superset_warehouse,
        superset_port=port,
        superset_admin_user="pwr_test_admin",
        superset_admin_password=None,
        superset_db_password=None,
        superset_metadata_url=None,
    )
    t0 = time.monotonic()
    starting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="superset-start")
    start = starting.submit(_start_superset, settings, superset_warehouse)
    try:
        request.getfixturevalue("populated_warehouse")
        secrets = start.result()
        running = RunningSuperset(settings, secrets, superset_warehouse, superset_url(settings))
        running.import_bundle()
        print(f"\nDemo warehouse built, Superset up and bundle imported in {time.monotonic() - t0:.1f}s")
        yield running
    finally:
        starting.shutdown(wait=True)  # a start still under way ends before Superset is stopped
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
