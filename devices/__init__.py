"""Devices: the screens vlagent sees and acts on.

`AdbDevice` and `DesktopDevice` are imported on first use: pyautogui talks to the display at
import time, and adbutils is only needed for phones.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .base import Device, ui_tree

_LAZY = {"AdbDevice": ".adb", "DesktopDevice": ".desktop"}

__all__ = ["AdbDevice", "DesktopDevice", "Device", "ui_tree"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'vlagent.devices' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
