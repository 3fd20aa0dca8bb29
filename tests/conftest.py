"""Fixtures shared by the whole suite.

adb: one adb server of the suite's own on a free port (ANDROID_ADB_SERVER_PORT is set for the
session, so adbutils and every `adb` started use it), killed at the end: the tests never touch
a developer's own adb server or phones.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from ports import free_port


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Qwen2-VL checkpoint (real transformers classes), built once per run."""
    from vlagent.testing import tiny_checkpoint

    return tiny_checkpoint(tmp_path_factory.mktemp("tiny-qwen2-vl"))


@pytest.fixture(scope="session")
def adb_bin() -> str:
    adbutils = pytest.importorskip("adbutils")
    try:
        return adbutils.adb_path()
    except Exception:
        pytest.skip("no adb binary (adbutils ships one; install adbutils or platform-tools)")


@pytest.fixture(scope="session")
def adb_port(adb_bin: str) -> Iterator[int]:
    port = free_port()
    saved = os.environ.get("ANDROID_ADB_SERVER_PORT")
    os.environ["ANDROID_ADB_SERVER_PORT"] = str(port)
    subprocess.run([adb_bin, "-P", str(port), "start-server"], stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=60, check=True)
    try:
        yield port
    finally:
        subprocess.run([adb_bin, "-P", str(port), "kill-server"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
        if saved is None:
            os.environ.pop("ANDROID_ADB_SERVER_PORT", None)
        else:
            os.environ["ANDROID_ADB_SERVER_PORT"] = saved


@pytest.fixture(scope="session")
def adb_client(adb_port: int):
    import adbutils

    return adbutils.AdbClient(host="127.0.0.1", port=adb_port)
