"""A local OpenDota for tests: ``http.server`` in a thread serving API-shaped responses.

Routes answer from a league (match documents by id) the way OpenDota does: ``/heroes``,
``/leagues/{id}``, ``/leagues/{id}/matches`` (paged by ``less_than_match_id``, ``page_size`` rows
a page) and ``/matches/{id}``. A test queues faults per path (``fail``: a status with headers, or
a delay longer than the client's timeout) that are served before the normal answer, and reads
``requests`` to see what the client asked, and when.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class Fault:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: str | None = None


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    at: float


class OpenDotaServer:
    def __init__(self, heroes: list[dict], league: dict, matches: list[dict], page_size: int = 100) -> None:
        self.heroes = heroes
        self.league = league
        self.matches = {m["match_id"]: m for m in matches if isinstance(m.get("match_id"), int)}
        self.page_size = page_size
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.requests: list[Seen] = []
        self.raw_bodies: dict[str, str] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlparse(self.path)
                path = url.path.removeprefix("/api")
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.requests.append(Seen(path, query, time.monotonic()))
                if server.faults[path]:
                    fault = server.faults[path].popleft()
                    if fault.delay:
                        time.sleep(fault.delay)
                    if fault.status != 200 or fault.body is not None:
                        self._send(fault.status, fault.body or json.dumps({"error": "fault"}), fault.headers)
                        return
                status, body = server.answer(path, query)
                self._send(status, body, {})

            def _send(self, status: int, body: str, headers: dict[str, str]) -> None:
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api"

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str]:
        league_id = self.league["leagueid"]
        if path == "/heroes":
            return 200, json.dumps(self.heroes)
        if path == f"/leagues/{league_id}":
            return 200, json.dumps(self.league)
        if path == f"/leagues/{league_id}/matches":
            below = int(query.get("less_than_match_id", 2**62))
            rows = sorted((m for m in self.matches if m < below), reverse=True)[: self.page_size]
            return 200, json.dumps([{"match_id": m, "leagueid": league_id} for m in rows])
        if path.startswith("/matches/"):
            match_id = int(path.removeprefix("/matches/"))
            if str(match_id) in self.raw_bodies:
                return 200, self.raw_bodies[str(match_id)]
            if match_id in self.matches:
                return 200, json.dumps(self.matches[match_id])
        return 404, json.dumps({"error": "Not Found"})

    def fail(self, path: str, *faults: Fault) -> None:
        self.faults[path].extend(faults)

    def count(self, prefix: str) -> int:
        return sum(1 for r in self.requests if r.path.startswith(prefix))

    def __enter__(self) -> OpenDotaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
