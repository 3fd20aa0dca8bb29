"""Handing freed heap memory back to the OS (Linux/glibc `malloc_trim`) once RSS has crept
RELEASE_SLACK above its floor, so an in-process model's long runs stay flat.

Each call allocates and frees buffers of tens of MB (pixel values, vision activations,
attention); glibc serves them from its heap after the first frees, and that heap fragments, so
RSS creeps up by ~200 KB a call (60 MB over 200 SimPhone steps) although nothing leaks. A
release costs a few ms plus faulting the pages in again, so it runs only then, and at most once
every RELEASE_EVERY calls: a call's own churn (~200-300 MB at ~10,000 prompt tokens on the tiny
model) ends above the band every other call, and releasing each time made the framework's time
per step grow by a quarter over a 45-step run (issue #20); creep over RELEASE_EVERY calls is
a few MB.
"""

from __future__ import annotations

import os
import sys
from typing import Any

RELEASE_SLACK = 32 * 2**20
RELEASE_EVERY = 16  # calls at least between two releases


class HeapReleaser:
    """The lowest end-of-call RSS seen (`floor`) and the releases made (`releases`)."""

    def __init__(self) -> None:
        self.floor: int | None = None
        self.releases = 0
        self._released = False
        self._since_release = RELEASE_EVERY

    def after_call(self) -> None:
        """Hand freed heap memory back to the OS when RSS at the end of a call is RELEASE_SLACK
        above the lowest end-of-call level seen, so RSS comes back within that band of its floor. If
        even the call after a release ends above the band, the working set itself has grown (a
        longer prompt) and that level becomes the new floor. At most one release every
        RELEASE_EVERY calls (see the module)."""
        trim, rss = _malloc_trim(), _rss_bytes()
        if trim is None or rss is None:
            return
        self._since_release += 1
        floor = self.floor
        if floor is None:
            self.floor = rss
        elif self._released:
            self._released = False
            self.floor = rss if rss > floor + RELEASE_SLACK else min(floor, rss)
        elif rss > min(floor, rss) + RELEASE_SLACK:
            if self._since_release >= RELEASE_EVERY:
                trim(0)
                self.releases += 1
                self._released, self._since_release = True, 0
        else:
            self.floor = min(floor, rss)


def release_free_heap() -> bool:
    """Hand all freed heap memory back to the OS now; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    return trim is not None


def _malloc_trim() -> Any:
    """glibc's malloc_trim, or None elsewhere (macOS, musl, Windows)."""
    global _TRIM
    if _TRIM is None:
        _TRIM = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                _TRIM = ctypes.CDLL(None).malloc_trim
            except (OSError, AttributeError):
                pass
    return _TRIM or None


_TRIM: Any = None


def _rss_bytes() -> int | None:
    """Resident memory of this process from /proc (no psutil needed), or None off Linux."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
