"""The Device protocol: what the agent loop needs from a phone or a desktop.

Implementations: `AdbDevice` (a phone, or SimPhone, over adb), `DesktopDevice` (mss + pyautogui)
and `vlagent.testing.ImageDevice` (in memory, for tests).

Rules every implementation keeps:
- The constructor does no I/O; `connect()` (or entering the context manager) does.
- `size` is the pointer space, in device pixels, that `execute` expects. A screenshot may have
  another size (HiDPI desktops, phones that capture at reduced resolution); the loop scales
  between the two, so a Device never rescales coordinates itself.
- `execute` raises `DeviceOffline` when the device is gone and `DeviceCommandError` when one
  command failed; it never swallows a failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

    from ..actions import Action


@runtime_checkable
class Device(Protocol):
    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the pointer space in device pixels."""
        ...

    def connect(self) -> "Device": ...

    def screenshot(self) -> Image.Image:
        """The current screen as an RGB image."""
        ...

    def execute(self, action: Action) -> None: ...

    def close(self) -> None: ...


def ui_tree(device: Device) -> str | None:
    """The device's UI hierarchy as XML when it can give one (the optional part of the protocol)."""
    fn = getattr(device, "ui_tree", None)
    return fn() if callable(fn) else None
