"""The one retry policy (tenacity) for transient failures: HTTP tools, model servers, devices.

What is never retried, whatever raised it: the model's own mistakes (RecoverableError: a retry
would repeat them), a person's decisions (UserError, PolicyViolation, UserAbort), and HTTP
answers that will not change on a retry (4xx other than 408 and 429). Everything in
`TRANSIENT` is retried with exponential backoff and jitter, within a bounded count and time.
A `Retry-After` header (seconds or an HTTP date) is honoured: the next request waits at least
that long, and an answer that asks for more than MAX_RETRY_AFTER seconds is not retried at all.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from .errors import PolicyViolation, RecoverableError, UserAbort, UserError

NEVER_RETRIED: tuple[type[BaseException], ...] = (
    RecoverableError, UserError, PolicyViolation, UserAbort, KeyboardInterrupt,
)
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0  # seconds; a server asking for longer is told no, not waited for

if TYPE_CHECKING:
    import tenacity


def is_transient(exc: BaseException) -> bool:
    """True for failures that may go away on their own: timeouts, dropped connections, 429/5xx."""
    if isinstance(exc, NEVER_RETRIED):
        return False
    status = _http_status(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is optional until an HTTP tool needs it
        return False
    return isinstance(exc, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError))


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked to wait before the next request (its Retry-After), if it did."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # only for an HTTP-date Retry-After

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # neither form: as if absent
    return max(0.0, when.timestamp() - time.time())


def _http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def retrying(
    *, attempts: int = 4, max_seconds: float = 30.0, initial: float = 0.25, maximum: float = 8.0,
    retry_if: Callable[[BaseException], bool] = is_transient, before_sleep: Callable[[], None] | None = None,
) -> tenacity.Retrying:
    """A tenacity Retrying for `for attempt in retrying(): with attempt: ...` loops, or to call:
    `retrying()(fn, *args)`. Models, HTTP tools and the adb transport all retry through it.

    attempts / max_seconds: the budget (whichever ends first, counted from the first attempt);
    initial / maximum: the exponential backoff's first and longest wait (initial=0: no wait);
    retry_if: what is worth another attempt (never what NEVER_RETRIED lists);
    before_sleep: run before each new attempt (a reconnect)."""
    import tenacity  # here, not at import: `import vlagent` stays cheap (issue #20)

    # exponential + random jitter spelled so tenacity 8 and 9 read it the same way
    backoff = tenacity.wait_exponential(multiplier=initial, max=maximum) + tenacity.wait_random(0, initial)

    def wait(state: tenacity.RetryCallState) -> float:
        asked = retry_after(state.outcome.exception() if state.outcome else None)
        return max(backoff(state), asked or 0.0)

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(
            lambda e: not isinstance(e, NEVER_RETRIED) and retry_if(e) and (retry_after(e) or 0.0) <= MAX_RETRY_AFTER),
        stop=tenacity.stop_after_attempt(attempts) | tenacity.stop_after_delay(max_seconds),
        wait=wait,
        before_sleep=(lambda _state: before_sleep()) if before_sleep is not None else None,
        reraise=True,  # callers see the real exception, not tenacity.RetryError
    )
