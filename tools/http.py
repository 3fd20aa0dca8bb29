"""GET JSON from a web API the way every built-in tool should: one pooled httpx client, the
vlagent retry policy (`vlagent.retry`: timeouts, dropped connections, 408/429/5xx), and failures
turned into ToolExecutionErrors that say which service failed and how, for the model to act on.
Secrets passed as query parameters (API keys) never appear in a message.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import httpx

from ..deadline import within
from ..errors import ToolExecutionError
from ..redaction import redact_logs
from ..retry import RETRYABLE_STATUS, is_transient, retrying

__all__ = ["JSONService", "shared_client"]

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def shared_client() -> httpx.Client:
    """One connection pool for all built-in tools (httpx.Client is safe to share across threads;
    timeouts are set per request)."""
    global _client
    with _client_lock:
        if _client is None or _client.is_closed:
            _client = httpx.Client(follow_redirects=True, headers={"User-Agent": "vlagent-tools"})
        return _client


def get_within(client: httpx.Client, url: str, params: dict[str, Any], timeout: float) -> httpx.Response:
    """GET with `timeout` as a deadline for the whole answer: httpx's timeouts are per read, so
    a server sending a byte at a time would otherwise hold a tool for as long as it likes."""
    started = time.monotonic()
    with client.stream("GET", url, params=params, timeout=timeout) as streamed:
        body = b"".join(within(streamed.iter_bytes(), timeout, streamed.request, started))
    return httpx.Response(streamed.status_code, headers=streamed.headers, content=body,
                          request=streamed.request)


class _RetryableAnswer(Exception):
    """A response the provider says is worth asking again for (e.g. a 429 per-second limit)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class JSONService:
    """One provider's JSON endpoints.

    service: the name errors use ("Open-Meteo geocoding"). timeout: seconds per request.
    attempts/backoff: the retry budget (`vlagent.retry.retrying`). error_detail(payload): the
    provider's own error text in a JSON body, or None when the body is no error. retryable(response):
    whether an answer is worth retrying (default: its status is 408, 429 or 5xx).
    """

    def __init__(
        self, service: str, *, client: httpx.Client | None = None, timeout: float = 10.0,
        attempts: int = 3, backoff: float = 0.25, secrets: tuple[str, ...] = ("access_key", "apikey", "api_key"),
        error_detail: Callable[[Any], str | None] = lambda payload: None,
        retryable: Callable[[httpx.Response], bool] = lambda r: r.status_code in RETRYABLE_STATUS,
    ) -> None:
        self.service, self.client, self.timeout = service, client, timeout
        redact_logs()  # httpx logs each request's URL at INFO, an API key in its query included
        self.attempts, self.backoff, self.secrets = attempts, backoff, secrets
        self.error_detail, self.retryable = error_detail, retryable

    def get(self, url: str, params: Mapping[str, Any]) -> Any:
        """The decoded JSON body of `GET url?params`, or a ToolExecutionError saying what failed."""
        client = self.client or shared_client()
        secrets = [str(v) for k, v in params.items() if k in self.secrets and v]
        tries = 0

        def attempt() -> httpx.Response:
            nonlocal tries
            tries += 1
            response = get_within(client, url, dict(params), self.timeout)
            if self.retryable(response):
                raise _RetryableAnswer(response)
            return response

        policy = retrying(
            attempts=self.attempts, max_seconds=max(self.timeout * self.attempts, 1.0),
            initial=self.backoff, maximum=max(self.backoff * 8, 0.01),
            retry_if=lambda e: isinstance(e, _RetryableAnswer) or is_transient(e),
        )
        where = f"{self.service} ({_origin(url)})"
        try:
            response = policy(attempt)
        except _RetryableAnswer as e:
            response = e.response  # still failing after the last attempt: reported below
        except httpx.TimeoutException:
            message = f"{where} did not answer within {self.timeout:g} s ({_attempts(tries)})"
            raise self._error(message, secrets) from None
        except httpx.HTTPError as e:
            message = f"could not reach {where}: {type(e).__name__}: {e} ({_attempts(tries)})"
            raise self._error(message, secrets) from None

        try:
            payload = response.json()
        except ValueError:
            payload = _NOT_JSON
        detail = self.error_detail(payload) if payload is not _NOT_JSON else None
        if response.status_code >= 400 or detail:
            status = f"{response.status_code} {response.reason_phrase}".strip()
            after = f" after {_attempts(tries)}" if tries > 1 else ""
            text = detail or _excerpt(response.text) or "(empty body)"
            raise self._error(f"{where} answered {status}{after}: {text}", secrets)
        if payload is _NOT_JSON:
            raise self._error(f"malformed JSON from {where}: {_excerpt(response.text) or '(empty body)'}", secrets)
        return payload

    def _error(self, message: str, secrets: list[str]) -> ToolExecutionError:
        for secret in secrets:
            message = message.replace(secret, "***")
        return ToolExecutionError(message)


_NOT_JSON = object()


def _attempts(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"  # never the query: it may hold a key


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
