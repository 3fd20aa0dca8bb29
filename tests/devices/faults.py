"""Helpers for the fault tests: how a device call ended and how long it took (for the tests'
loose bounds, not a benchmark), and waiting until adb has seen a transport go."""

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


def wait_until_dropped(adb_client: Any, serial: str, timeout: float = 3.0) -> bool:
    """Whether adb saw the transport go (`fault drop` drops it just after its own reply, so a
    fast next command could otherwise slip in before the fault)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(i.serial != serial or i.state != "device" for i in adb_client.list()):
            return True
        time.sleep(0.01)
    return False
