"""How long a device call took and how it ended, for the fault tests' bounds (not a benchmark)."""

from __future__ import annotations

import time
from typing import Any, Callable


def timed(fn: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    """(result or None, the exception or None, seconds)."""
    start = time.monotonic()
    try:
        return fn(), None, time.monotonic() - start
    except Exception as e:  # noqa: BLE001 - the tests assert the class
        return None, e, time.monotonic() - start
