"""A small client for Superset's REST API (login, CSRF, JSON and file requests).

List queries take Superset's ``q=`` parameter in Rison, encoded by ``prison``, the library Superset's API
itself decodes it with (through Flask-AppBuilder): no hand-kept quoting rules to drift.
"""

from __future__ import annotations

from typing import Any

import prison
import requests


class SupersetApiError(RuntimeError):
    """Superset answered with an error; the message holds the status and the body."""


class SupersetUnreachable(SupersetApiError):
    """Superset did not answer at all (not running, wrong URL or port)."""


class SupersetClient:
    """Logged-in session against one Superset (JWT for the API, session cookie + CSRF for writes)."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 120) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Referer"] = self.base_url
        try:
            resp = self.session.post(
                self._url("/api/v1/security/login"),
                json={"username": username, "password": password, "provider": "db", "refresh": False},
                timeout=timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            # the usual case is simply "Superset is not running": say so, not urllib3's retry chain
            raise SupersetUnreachable(
                f"Superset does not answer at {self.base_url} ({type(exc).__name__}): is it running? "
                "(`pwr superset start` or `pwr up`; PWR_SUPERSET_URL / PWR_SUPERSET_PORT say where)"
            ) from None
        if resp.status_code != 200:
            raise SupersetApiError(
                f"Superset login as {username!r} failed ({resp.status_code}): {resp.text[:300]}"
            )
        self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        self.session.headers["X-CSRFToken"] = self.get("/api/v1/security/csrf_token/")["result"]
        if self.base_url.startswith("http://"):
            # Behind the TLS proxy Superset marks its session cookie Secure, but one-shots such as
            # compose's superset-import reach it directly over the private network in plain HTTP.
            # The CSRF token is bound to that cookie, so it must still be sent on this hop.
            for cookie in self.session.cookies:
                cookie.secure = False

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _check(self, resp: requests.Response) -> requests.Response:
        if resp.status_code >= 400:
            raise SupersetApiError(
                f"{resp.request.method} {resp.url} → {resp.status_code}: {resp.text[:2000]}"
            )
        return resp

    def _json(self, resp: requests.Response) -> Any:
        """The JSON body, or an error that shows what Superset sent instead (e.g. an HTML page)."""
        self._check(resp)
        try:
            return resp.json()
        except ValueError as exc:
            history = " → ".join(f"{r.status_code} {r.url}" for r in resp.history)
            raise SupersetApiError(
                f"{resp.request.method} {resp.url} → {resp.status_code} (not JSON"
                f"{'; redirects: ' + history if history else ''}): {resp.text[:1000]}"
            ) from exc

    def get(self, path: str, **params: Any) -> Any:
        return self._json(self.session.get(self._url(path), params=params, timeout=self.timeout))

    def get_bytes(self, path: str, **params: Any) -> bytes:
        return self._check(self.session.get(self._url(path), params=params, timeout=self.timeout)).content

    def post(self, path: str, payload: Any) -> Any:
        return self._json(self.session.post(self._url(path), json=payload, timeout=self.timeout))

    def post_files(self, path: str, files: dict, data: dict) -> Any:
        return self._json(self.session.post(self._url(path), files=files, data=data, timeout=self.timeout))

    def list_all(self, resource: str, columns: list[str]) -> list[dict]:
        """Every object of a resource (``chart``, ``dataset``, ``dashboard``, ``database``)."""
        out: list[dict] = []
        page = 0
        while True:
            query = {"columns": columns, "page": page, "page_size": 100}
            body = self.get(f"/api/v1/{resource}/", q=prison.dumps(query))
            out.extend(body["result"])
            if len(out) >= body["count"] or not body["result"]:
                return out
            page += 1
