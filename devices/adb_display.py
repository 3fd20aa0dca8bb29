"""What a phone's shell says about the phone and its screen: model, Android release and SDK
level (getprop), the physical and override size and density (`wm`), the rotation (`dumpsys
display`); and whether a screenshot's shape says the phone has turned since.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import DeviceCommandError

# One shell command for everything `read_display` parses, in that order.
PROPERTIES_COMMAND = (
    "getprop ro.product.model; getprop ro.build.version.release; getprop ro.build.version.sdk; "
    "wm size; wm density; dumpsys display | grep -E 'orientation=|mCurrentOrientation'"
)
ORIENTATION_COMMAND = "dumpsys display | grep orientation="


@dataclass
class Display:
    props: dict[str, str]  # ro.product.model, ro.build.version.release
    sdk: int  # 0: unknown
    physical: tuple[int, int]
    override: tuple[int, int] | None
    density: int  # 0: unknown
    rotation: int  # 0-3, quarter turns


def read_display(out: str) -> Display:
    """The output of PROPERTIES_COMMAND, parsed; DeviceCommandError without a screen size."""
    lines = out.splitlines()
    props = {"ro.product.model": lines[0].strip() if lines else "",
             "ro.build.version.release": lines[1].strip() if len(lines) > 1 else ""}
    sdk = lines[2].strip() if len(lines) > 2 else ""
    phys = re.search(r"Physical size: (\d+)x(\d+)", out)
    if not phys:
        raise DeviceCommandError(f"cannot read the screen size from `wm size`: {out.strip()[:300]}")
    over = re.search(r"Override size: (\d+)x(\d+)", out)
    dens = re.search(r"Override density: (\d+)", out) or re.search(r"Physical density: (\d+)", out)
    return Display(
        props=props,
        sdk=int(sdk) if sdk.isdigit() else 0,
        physical=(int(phys.group(1)), int(phys.group(2))),
        override=(int(over.group(1)), int(over.group(2))) if over else None,
        density=int(dens.group(1)) if dens else 0,
        rotation=read_rotation(out) or 0,
    )


def read_rotation(out: str) -> int | None:
    """The rotation in `dumpsys display` output, None when it names none."""
    rot = re.search(r"orientation=(\d)", out)
    return int(rot.group(1)) if rot else None


def frame_turned(physical: tuple[int, int], rotation: int, frame: tuple[int, int]) -> bool | None:
    """Whether a `frame`-sized screenshot disagrees with the known `rotation` of a screen
    `physical` in size: None when it agrees (or a square or unknown screen cannot tell), else
    whether the frame is landscape relative to the physical screen."""
    w, h = physical
    if w == h or not w:
        return None
    landscape = (frame[0] > frame[1]) != (w > h)
    return landscape if landscape != bool(rotation % 2) else None
