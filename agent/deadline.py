"""One deadline for a whole HTTP answer.

httpx's timeouts apply to each read, so a server that sends a byte just inside the read timeout
can hold a request for as long as it likes. Reading through `within` bounds the whole answer,
for the model client and the HTTP tools alike.
"""

from __future__ import annotations

import time
from typing import Iterable, Iterator, TypeVar

import httpx

T = TypeVar("T")


class AnswerTooSlow(httpx.ReadTimeout):
    """The whole answer took longer than its deadline (each read was in time)."""


def within(parts: Iterable[T], seconds: float | None, request: httpx.Request,
           started: float | None = None) -> Iterator[T]:
    """Yield from `parts` (an answer's bytes or lines), raising AnswerTooSlow (an httpx.ReadTimeout) once the answer
    has taken more than `seconds` in all (None: no limit) since `started` (a time.monotonic()
    reading taken before the request was sent; default: the first read)."""
    if seconds is None:
        yield from parts
        return
    deadline = (time.monotonic() if started is None else started) + seconds
    for part in parts:
        yield part
        if time.monotonic() > deadline:
            raise AnswerTooSlow(f"the answer took over {seconds:g} s in all", request=request)
