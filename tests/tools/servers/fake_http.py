"""A loopback HTTP server that answers like a provider's API, from a per-path script.

    with FakeAPI() as api:
        api.route("/v1/search", Answer(200, {...}))           # every request
        api.route("/v1/forecast", Answer(500), Answer(200, {...}))  # one after the other, last repeats
        ... api.url ... api.requests  # [(path, {query})]; api.raw: each request as received

Real sockets on 127.0.0.1, port chosen by the OS, so the tools' real httpx code runs end to end.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # dict/list: JSON; str/bytes: sent as is
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # seconds between the body's bytes: a server that sends slowly


Script = Callable[[dict[str, str]], Answer]


class FakeAPI:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.times: list[float] = []  # time.monotonic() of each request, in order
        self.raw: list[bytes] = []  # request line, headers and body of each request, as received
        self._routes: dict[str, list[Answer | Script]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                fake.raw.append(f"{self.requestline}\r\n{self.headers}".encode("latin-1", "replace")
                                + (self.rfile.read(length) if length else b""))
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                answer = fake._next(parts.path, query)
                if answer.delay:
                    time.sleep(answer.delay)
                body = answer.body
                if isinstance(body, (dict, list)):
                    body = json.dumps(body, ensure_ascii=False)
                data = body.encode() if isinstance(body, str) else (body or b"")
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in answer.headers.items():
                        if k != "Content-Type":
                            self.send_header(k, v)
                    self.end_headers()
                    if answer.trickle:
                        for i in range(len(data)):
                            self.wfile.write(data[i:i + 1])
                            self.wfile.flush()
                            time.sleep(answer.trickle)
                    else:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def route(self, path: str, *answers: Answer | Script) -> None:
        with self._lock:
            self._routes[path] = list(answers)

    def hits(self, path: str) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == path]

    def _next(self, path: str, query: dict[str, str]) -> Answer:
        with self._lock:
            self.requests.append((path, query))
            self.times.append(time.monotonic())
            script = self._routes.get(path)
            if not script:
                return Answer(404, {"error": f"no route {path}"})
            answer = script.pop(0) if len(script) > 1 else script[0]
        return answer(query) if callable(answer) else answer

    def __enter__(self) -> FakeAPI:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
