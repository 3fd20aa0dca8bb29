"""Wait until the screen stops changing, with a bound, instead of sleeping a fixed time."""

from __future__ import annotations

import time
from typing import Callable

from PIL import Image, ImageChops

_THUMB = (48, 96)


def _thumb(image: Image.Image) -> Image.Image:
    # Grey and tiny: blinking cursors and anti-aliasing noise vanish, real changes do not.
    return image.convert("L").resize(_THUMB, Image.Resampling.BILINEAR)


def wait_until_stable(
    capture: Callable[[], Image.Image],
    *,
    timeout: float = 2.0,
    interval: float = 0.1,
    tolerance: float = 1.0,
) -> tuple[Image.Image, bool]:
    """Capture until two frames in a row match; return (last frame, whether it settled).

    The last frame is meant to be the next observation, so a stable screen costs two captures
    and no sleeping. `tolerance` is the mean absolute grey-level difference allowed.
    """
    deadline = time.monotonic() + timeout
    frame = capture()
    previous = _thumb(frame)
    while True:
        if time.monotonic() >= deadline:
            return frame, False
        time.sleep(interval)
        frame = capture()
        current = _thumb(frame)
        diff = ImageChops.difference(previous, current).histogram()
        mean = sum(level * count for level, count in enumerate(diff)) / (_THUMB[0] * _THUMB[1])
        if mean <= tolerance:
            return frame, True
        previous = current
