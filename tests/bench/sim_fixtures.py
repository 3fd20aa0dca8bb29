"""Helpers and fixtures for the SimPhone suite tests (imported by the test modules; not a conftest).

The adb server runs on a free port of its own, once per test process, and is killed at exit:
ANDROID_ADB_SERVER_PORT points every adbutils client and `adb` at it, as in tests/devices.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from ports import free_port

SMALL = (560, 1232)   # ~a quarter of 1080x2400's pixels, and multiples of 28: the loop has nothing to resize
_SERVER: dict[str, Any] = {}


def ensure_adb_server() -> int:
    """Start the private adb server (once per process) and point ANDROID_ADB_SERVER_PORT at it."""
    adbutils = pytest.importorskip("adbutils")
    if "port" not in _SERVER:
        try:
            binary = adbutils.adb_path()
        except Exception:
            pytest.skip("no adb binary (adbutils ships one; install adbutils or platform-tools)")
        port = free_port()
        subprocess.run([binary, "-P", str(port), "start-server"], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60, check=True)
        _SERVER.update(port=port, binary=binary)
        atexit.register(lambda: subprocess.run([binary, "-P", str(port), "kill-server"], stdin=subprocess.DEVNULL,
                                               capture_output=True, timeout=30))
    os.environ["ANDROID_ADB_SERVER_PORT"] = str(_SERVER["port"])
    return _SERVER["port"]


@contextlib.contextmanager
def adb_env() -> Iterator[int]:
    """ANDROID_ADB_SERVER_PORT at the private server inside the block, as it was after it (so the
    tests/devices fixtures, which set it for their own server, are never crossed)."""
    saved = os.environ.get("ANDROID_ADB_SERVER_PORT")
    try:
        yield ensure_adb_server()
    finally:
        if saved is None:
            os.environ.pop("ANDROID_ADB_SERVER_PORT", None)
        else:
            os.environ["ANDROID_ADB_SERVER_PORT"] = saved


@pytest.fixture
def adb_server() -> Iterator[int]:
    """The private adb server, for one test."""
    with adb_env() as port:
        yield port


def run(out: Path, **kwargs: Any):
    """run_suite on small SimPhones with a short settle wait."""
    from vlagent.bench.runner import run_suite

    kwargs.setdefault("sim_size", SMALL)
    return run_suite(out, **kwargs)


def run_until_interrupted(out: Path, after: int = 2, **kwargs: Any) -> list[str]:
    """`run`, stopped as Ctrl-C would stop it: a KeyboardInterrupt raised when its `after`-th episode
    finishes. Returns the task ids of the episodes that finished, in order."""
    seen: list[str] = []

    def stop(result) -> None:
        seen.append(result.task_id)
        if len(seen) == after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(out, on_episode=stop, **kwargs)
    return seen


def outcomes(result) -> dict[str, str]:
    return {r.task_id: r.outcome for r in result.results}


def finished_episodes(out: Path) -> int:
    return sum(1 for _ in (out / "episodes").glob("*/result.json"))


def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
