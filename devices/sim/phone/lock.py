"""The phone's one lock: the ADB server drives a Phone from several connection threads."""

from __future__ import annotations

import functools
from typing import Any, Callable


def locked(fn: Callable) -> Callable:
    """Run a method under the phone's re-entrant lock (`self._lock`: the Phone's, which each of its
    parts holds too)."""
    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return fn(self, *args, **kwargs)
    return wrapper
