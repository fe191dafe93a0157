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


GRID = '[data-test="chart-grid-component"]'


def open_dashboard(page, superset: RunningSuperset, slug: str, expected_charts: int) -> list[dict]:
    """Open a dashboard as a person does and wait until every chart has drawn (or said why not).

    When no chart tile shows at all within a minute, what the page showed is kept (screenshot,
    URL, title, text, failed requests) and the dashboard is opened afresh, signing in again when
    the page went back to the login form: on a busy 2-core machine a request can be lost while
    Superset's workers are busy (seen in CI), and a person would press reload too. A second miss
    fails with everything that was kept plus the tail of Superset's own log."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    failed: list[str] = []

    def note(response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.request.method} {response.url}")

    page.on("response", note)
    url = f"{superset.base_url}/superset/dashboard/{slug}/"
    misses: list[str] = []
    try:
        for attempt in (1, 2):
            if attempt == 2 and "/login" in page.url:
                log_in(page, superset)
            page.goto(url, wait_until="load")
            try:
                page.wait_for_selector(GRID, timeout=60_000 if attempt == 1 else 120_000)
                return wait_for_charts(page, expected_charts)
            except PlaywrightTimeout:
                misses.append(_what_the_page_showed(page, f"{slug}-attempt{attempt}", failed))
        log_file = superset.settings.home / "logs" / "superset.log"
        log_tail = log_file.read_text(errors="replace")[-4000:] if log_file.exists() else "(no log)"
        raise AssertionError(
            f"{slug}: no chart tile after two tries.\n"
            + "\n".join(misses)
            + f"\nSuperset log tail:\n{log_tail}"
        )
    finally:
        page.remove_listener("response", note)


def _what_the_page_showed(page, name: str, failed: list[str]) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"no-chart-grid-{name}-{int(time.time())}.png"
    try:
        page.screenshot(path=str(shot), full_page=True)
        text = page.inner_text("body", timeout=5_000)[:600]
        title = page.title()
    except Exception as exc:  # the page itself may be what broke; keep what can be kept
        text, title = f"(page unreadable: {exc})", "?"
    return f"- {name}: url={page.url} title={title!r} screenshot={shot}\n  text={text!r}\n  failed={failed[-15:]}"


def wait_for_charts(page, expected_charts: int, timeout_s: float = 90) -> list[dict]:
    """Wait until every tile has rendered, errored or said it is empty; returns the final states
    (the page already shows the dashboard's grid: see :func:`open_dashboard`)."""
    page.wait_for_selector(GRID, timeout=120_000)
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
