"""Every coordinate conversion in vlagent lives here.

Three spaces meet in one step:
- model units: what the model writes. Qwen2-VL and Qwen3-VL use 0-1000 relative to the image;
  Qwen2.5-VL uses pixels of the image *as resized by smart_resize* (the size it actually saw).
- screenshot pixels: the image the device returned.
- device pixels: the pointer space the device acts in. It differs from screenshot pixels on HiDPI
  desktops (a 2x screenshot of a 1440x900 logical screen) and on phones that capture scaled.

A point off the screen is the model's mistake: `ActionOutOfBounds`, fed back to it, never a
silent clamp into a tap on something else. Pure module: no torch, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ActionOutOfBounds

IMAGE_FACTOR = 28
MIN_PIXELS = 4 * 28 * 28
MAX_PIXELS = 16384 * 28 * 28
MAX_RATIO = 200
RELATIVE_SCALE = 1000


def smart_resize(
    height: int,
    width: int,
    factor: int = IMAGE_FACTOR,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
) -> tuple[int, int]:
    """(height, width) the Qwen2-VL processors resize an image to; equal to qwen-vl-utils'.

    Both sides become multiples of `factor`, the area lands in [min_pixels, max_pixels] and the
    aspect ratio is kept as closely as that allows.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image sides must be positive, got height={height}, width={width}")
    if max_pixels < min_pixels:
        raise ValueError(f"max_pixels ({max_pixels}) must be >= min_pixels ({min_pixels})")
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {MAX_RATIO}, got {ratio}")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@dataclass(frozen=True)
class Screen:
    """The geometry of one observation: how model units map to device pixels.

    image_size: (w, h) of the screenshot. device_size: (w, h) of the pointer space.
    model_size: (w, h) of the image the model saw (smart-resized); None means the screenshot's.
    """

    image_size: tuple[int, int]
    device_size: tuple[int, int]
    model_size: tuple[int, int] | None = None

    @property
    def scale(self) -> tuple[float, float]:
        """Device pixels per screenshot pixel (0.5 on a 2x HiDPI desktop)."""
        return (self.device_size[0] / self.image_size[0], self.device_size[1] / self.image_size[1])

    def model_extent(self, system: str) -> tuple[float, float]:
        """The largest x and y a model may write in `system` on this screen."""
        if system == "relative-1000":
            return (RELATIVE_SCALE, RELATIVE_SCALE)
        if system == "smart-resized":
            return self.model_size or self.image_size
        raise ValueError(f"unknown coordinate system {system!r}; use 'relative-1000' or 'smart-resized'")

    def units(self, system: str) -> str:
        """How a model in `system` writes coordinates on this screen, in the words every prompt
        uses (system prompt, UI tool schema, grounding question): the one statement of it."""
        if system == "relative-1000":
            return f"on a 0-{RELATIVE_SCALE} scale of the screenshot's width and height"
        w, h = self.model_extent(system)
        return f"in pixels of the {w}x{h} screenshot, from its top-left corner"

    def to_device(self, point: tuple[float, float], system: str) -> tuple[int, int]:
        """A model point in device pixels, or ActionOutOfBounds if it is off the screen."""
        x, y = point
        ext_x, ext_y = self.model_extent(system)
        if not (0 <= x <= ext_x and 0 <= y <= ext_y) or math.isnan(x) or math.isnan(y):
            raise ActionOutOfBounds(
                f"coordinate [{_fmt(x)}, {_fmt(y)}] is off the screen: x must be within "
                f"0-{_fmt(ext_x)} and y within 0-{_fmt(ext_y)}. Look at the screenshot again and "
                "give a point on a visible element."
            )
        dev_w, dev_h = self.device_size
        # The far edge (x == extent) is the last pixel, not one past it.
        return (min(dev_w - 1, int(x / ext_x * dev_w)), min(dev_h - 1, int(y / ext_y * dev_h)))

    def box_to_device(self, box: tuple[float, float, float, float], system: str) -> tuple[int, int, int, int]:
        x1, y1 = self.to_device((box[0], box[1]), system)
        x2, y2 = self.to_device((box[2], box[3]), system)
        return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))

    def from_device(self, point: tuple[int, int], system: str) -> tuple[int, int]:
        """Device pixels back to model units (to show the model where it acted)."""
        ext_x, ext_y = self.model_extent(system)
        dev_w, dev_h = self.device_size
        return (round(point[0] * ext_x / dev_w), round(point[1] * ext_y / dev_h))


def box_center(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"
