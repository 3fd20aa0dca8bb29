"""An OpenAI-compatible server written for the tests: a real HTTP server on a loopback port that
answers from a script and records every request, in the spirit of adbutils' tests/adb_server.py.

    with FakeOpenAIServer(Reply(json=chat(text="hi")), models=["m"]) as server:
        OpenAIModel(server.url, "m").generate(...)
        server.requests[0].body  # the JSON the client sent

Replies are used in order; the last one repeats. GET /v1/models answers from `models`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    raw: bytes | None = None  # sent as is (a malformed body)
    events: list[Any] | None = None  # SSE: dicts become `data: {json}`, strings go as written
    cut_after: int | None = None  # SSE: drop the connection after this many events
    delay: float = 0.0  # seconds to wait before answering (a timeout)
    trickle: float = 0.0  # seconds between the body's bytes, or between events: a slow sender
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Retry-After


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    raw: bytes = b""  # the request line, the headers and the body, as received
    at: float = field(default_factory=time.monotonic)  # when it arrived


class FakeOpenAIServer:
    def __init__(self, *replies: Reply, models: list[str] | None = None) -> None:
        self.replies = list(replies) or [Reply(json=chat("ok"))]
        self.models = ["fake-model"] if models is None else models
        self.requests = []
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def __enter__(self) -> "FakeOpenAIServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:
                pass

            def _raw(self, body: bytes = b"") -> bytes:
                return f"{self.requestline}\r\n{self.headers}".encode("latin-1", "replace") + body

            def do_GET(self) -> None:
                server.requests.append(Request("GET", self.path, dict(self.headers), raw=self._raw()))
                if self.path == "/v1/models":
                    data = {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]}
                    self._send(Reply(json=data))
                else:
                    self._send(Reply(status=404, json={"detail": "Not Found"}))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                server.requests.append(Request("POST", self.path, dict(self.headers), body, self._raw(raw)))
                index = len(server.chat_requests) - 1
                self._send(server.replies[min(index, len(server.replies) - 1)])

            def _send(self, reply: Reply) -> None:
                time.sleep(reply.delay)
                try:
                    self._send_now(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (a timeout test)

            def _send_now(self, reply: Reply) -> None:
                if reply.events is not None:
                    return self._send_events(reply)
                payload = reply.raw if reply.raw is not None else json.dumps(reply.json).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for i in range(0, len(payload), 1 if reply.trickle else len(payload) or 1):
                    self.wfile.write(payload[i:i + (1 if reply.trickle else len(payload))])
                    self.wfile.flush()
                    time.sleep(reply.trickle)

            def _send_events(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i, event in enumerate(reply.events):
                    if reply.cut_after is not None and i >= reply.cut_after:
                        # Mid-stream death: no terminating chunk, the socket just goes away.
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    text = event if isinstance(event, str) else f"data: {json.dumps(event)}\n\n"
                    data = text.encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                    time.sleep(reply.trickle)
                self.wfile.write(b"0\r\n\r\n")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def chat(text: str | None = "ok", tool_calls: list[dict] | None = None,
         usage: tuple[int, int] = (10, 2), finish: str | None = None) -> dict:
    """A chat.completion body as OpenAI and vLLM send it."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake-model",
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish or ("tool_calls" if tool_calls else "stop")}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


def tool_call(name: str, arguments: str, id_: str = "call_1") -> dict:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


def chunk(content: str | None = None, finish: str | None = None, tool_calls: list[dict] | None = None,
          usage: tuple[int, int] | None = None) -> dict:
    """One chat.completion.chunk event."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    event: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "fake-model",
                             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        event.update(choices=[], usage={"prompt_tokens": usage[0], "completion_tokens": usage[1]})
    return event
