"""A small OpenDota HTTP client: timeouts, retries with backoff, 429 honoured, a rate limit, a cache.

Built on ``requests`` with urllib3's own ``Retry`` (not a hand-written retry loop): GETs that time
out, fail to connect or answer 5xx are retried with exponential backoff, and a 429 (or 503) with
``Retry-After`` waits as long as the server asks before the next try. On top of that the client
spaces its own requests to stay within the free tier's 60 a minute, and keeps every match
document it fetched under ``PWR_HOME/opendota_cache``: a match never changes once played, so it
is fetched once, whatever happens to the warehouse afterwards. League match lists and the hero
list are fetched afresh (they grow).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)


class OpenDotaError(RuntimeError):
    """The API could not be reached or kept failing after the retries; the message says which URL.

    ``status`` is the HTTP status of the last answer (None when there was none: timeout, refused).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Fetched:
    """One response: ``document`` is the parsed JSON, or None when the body was no JSON (``text``)."""

    url: str
    document: Any
    text: str
    from_cache: bool = False


class RateLimit:
    """At most ``per_minute`` requests a minute: each waits until 60 / per_minute s after the last."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / per_minute
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                time.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


class OpenDotaClient:
    """GET JSON documents from OpenDota (``base_url`` e.g. https://api.opendota.com/api)."""

    def __init__(
        self,
        base_url: str,
        *,
        cache_dir: Path,
        api_key: str | None = None,
        requests_per_minute: int = 60,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 4,
        backoff_factor: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_dir = cache_dir
        self.api_key = api_key
        self.timeout = timeout
        self.rate_limit = RateLimit(requests_per_minute)
        self.requests_made = 0
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff_factor,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers["User-Agent"] = "pwr-platform (Dota League Insights)"

    def close(self) -> None:
        self.session.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Fetched:
        """GET ``path`` (e.g. ``/heroes``); raises :class:`OpenDotaError` on a final failure."""
        url = f"{self.base_url}{path}"
        query = dict(params or {})
        if self.api_key:
            query["api_key"] = self.api_key
        self.rate_limit.wait()
        self.requests_made += 1
        try:
            response = self.session.get(url, params=query, timeout=self.timeout)
        except requests.RequestException as exc:
            raise OpenDotaError(f"GET {url}: {_reason(exc)}") from None
        shown = url + (f"?{'&'.join(f'{k}={v}' for k, v in (params or {}).items())}" if params else "")
        if response.status_code >= 400:
            retried = " after retries" if response.status_code in RETRY_STATUSES else ""
            raise OpenDotaError(f"GET {shown}: HTTP {response.status_code}{retried}", response.status_code)
        try:
            document = response.json()
        except ValueError:
            document = None
        return Fetched(url=shown, document=document, text=response.text)

    def match(self, match_id: int) -> Fetched:
        """``/matches/{match_id}``, from the local cache when it was fetched before."""
        cached = self.cache_dir / "matches" / f"{match_id}.json"
        if cached.is_file():
            text = cached.read_text(encoding="utf-8")
            return Fetched(
                url=f"{self.base_url}/matches/{match_id}",
                document=json.loads(text),
                text=text,
                from_cache=True,
            )
        fetched = self.get(f"/matches/{match_id}")
        if isinstance(fetched.document, dict) and fetched.document.get("match_id") == match_id:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(fetched.text, encoding="utf-8")
            tmp.replace(cached)
        return fetched

    def league_match_ids(self, league_id: int) -> list[int]:
        """Every match id of ``/leagues/{league_id}/matches``, newest first.

        The list is read in pages by ``less_than_match_id`` (the cursor OpenDota's match lists
        take); a server that ignores the cursor answers the same page again, which adds no smaller
        id and ends the loop after one extra request.
        """
        ids: set[int] = set()
        cursor: int | None = None
        while True:
            fetched = self.get(
                f"/leagues/{league_id}/matches", {"less_than_match_id": cursor} if cursor else None
            )
            page = fetched.document
            if not isinstance(page, list):
                raise OpenDotaError(f"GET {fetched.url}: expected a JSON array of matches")
            page_ids = {
                row["match_id"]
                for row in page
                if isinstance(row, dict) and isinstance(row.get("match_id"), int)
            }
            new = {match_id for match_id in page_ids if cursor is None or match_id < cursor}
            if not new:
                return sorted(ids, reverse=True)
            ids |= new
            cursor = min(new)


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower():
        return "timed out (after retries)"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect (after retries)"
    return type(exc).__name__
