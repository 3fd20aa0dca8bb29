"""Devices: the screens vlagent sees and acts on.

`AdbDevice` and `DesktopDevice` are imported on first use: pyautogui talks to the display at
import time, and adbutils is only needed for phones.
"""

from __future__ import annotations

from .._lazy import lazy_exports

from .base import Device, ui_tree

_LAZY = {"AdbDevice": ".adb", "DesktopDevice": ".desktop"}

__all__ = ["AdbDevice", "DesktopDevice", "Device", "ui_tree"]


__getattr__ = lazy_exports(__name__, _LAZY, globals())
