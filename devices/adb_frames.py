"""screencap's frames as images: the raw format decoded straight into RGB, PNG as the fallback.

Raw frames skip a PNG encode on the phone and a decode here: a header (width, height, format,
and on Android 9+ a colour space) as little-endian uint32, then the pixels row by row.

Pillow is imported by the first frame decoded, not with `vlagent.devices` (cold start, issue #20).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from ..errors import DeviceCommandError

if TYPE_CHECKING:
    from PIL import Image


class TruncatedFrame(Exception):
    """Fewer bytes than the header promises: the capture was cut short."""


class UnparsableFrame(Exception):
    """A header we cannot read (an unknown pixel format): ask for a PNG instead."""


# format -> (bytes per pixel, Pillow raw mode decoding straight into RGB)
_RAW_FORMATS = {1: (4, "RGBX"), 2: (4, "RGBX"), 3: (3, "RGB"), 4: (2, "BGR;16"), 5: (4, "BGRX")}


def decode_raw_frame(data: bytes | bytearray, sdk: int) -> Image.Image:
    """The RGB image in `screencap`'s raw output from a phone running Android SDK `sdk` (0: unknown)."""
    from PIL import Image

    if len(data) < 12:
        raise TruncatedFrame(f"{len(data)} bytes")
    data = _strip_text_prefix(data)
    w, h, fmt = (int.from_bytes(data[i:i + 4], "little") for i in (0, 4, 8))
    spec = _RAW_FORMATS.get(fmt)
    if spec is None or not (0 < w <= 16384 and 0 < h <= 16384):
        raise UnparsableFrame(f"format {fmt}, {w}x{h}")
    bpp, rawmode = spec
    pixels = w * h * bpp
    # Android 9+ writes a 16-byte header (with the colour space), older ones 12 bytes.
    if len(data) == 16 + pixels:
        header = 16
    elif len(data) == 12 + pixels and sdk < 28:
        header = 12
    else:
        header = 12 if 0 < sdk < 28 else 16
    if len(data) < header + pixels:
        raise TruncatedFrame(f"{len(data) - header} of {pixels} pixel bytes")
    view = memoryview(data)[header:header + pixels]
    if rawmode == "RGBX":  # the common case: map the buffer as is, one pass to drop alpha
        return Image.frombuffer("RGBX", (w, h), view, "raw", "RGBX", 0, 1).convert("RGB")
    return Image.frombytes("RGB", (w, h), bytes(view), "raw", rawmode)


def decode_png_frame(data: bytes) -> Image.Image:
    """The RGB image in `screencap -p`'s output."""
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as e:
        raise DeviceCommandError(f"screencap -p gave no image ({len(data)} bytes): {e}") from None
    return image.convert("RGB")


def _strip_text_prefix(data: bytes | bytearray) -> bytes | bytearray | memoryview:
    """Some phones print a warning (several displays) before the frame on the same stream."""
    if data[:1] == b"[" or data[:8] == b"Warning:":
        end = data.find(b"\n")
        if 0 <= end < 1024:
            return memoryview(data)[end + 1:]
    return data
