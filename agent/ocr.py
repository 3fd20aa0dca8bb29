"""Text read off the screen's pixels, for the guard on devices that give no UI tree (desktops,
image devices): the words under a click, and the label beside the field being typed into.

Tesseract through pytesseract (the `vlagent[ocr]` extra and the `tesseract-ocr` system
package). Without them `available()` is False and nothing is read; the guard then says so and
treats what it cannot read as an unknown risk.
"""

from __future__ import annotations

import functools
import logging
import shutil
from dataclasses import dataclass

from PIL import Image, ImageOps

__all__ = ["Line", "available", "lines_near"]

log = logging.getLogger("vlagent.ocr")
# UI text is small: Tesseract reads 10-14 px type far better at twice the size.
SCALE = 2
MIN_CONFIDENCE = 40  # Tesseract's per-word confidence, 0-100; lower is mostly noise


@dataclass(frozen=True)
class Line:
    """One line of words and its box, in the coordinates of the image it was read from."""

    text: str
    box: tuple[int, int, int, int]

    def distance(self, x: int, y: int) -> float:
        """0 inside the box, else how far (x, y) lies outside it."""
        l, t, r, b = self.box
        return (max(l - x, 0, x - r) ** 2 + max(t - y, 0, y - b) ** 2) ** 0.5


@functools.cache
def available() -> bool:
    """Is there an OCR engine to read with (pytesseract and the tesseract binary)?"""
    try:
        import pytesseract
    except ImportError:
        return False
    return shutil.which(pytesseract.pytesseract.tesseract_cmd) is not None


def lines_near(image: Image.Image, x: int, y: int, half_width: int, half_height: int) -> list[Line]:
    """The lines of text in the box of (2*half_width x 2*half_height) around (x, y), nearest
    first, in the image's coordinates. [] when nothing is legible or no engine is installed."""
    if not available():
        return []
    left, top = max(0, x - half_width), max(0, y - half_height)
    right, bottom = min(image.width, x + half_width), min(image.height, y + half_height)
    if right <= left or bottom <= top:
        return []
    gray = ImageOps.grayscale(image.crop((left, top, right, bottom)))
    # Tesseract wants dark text on light: the likelier polarity first (a dark theme inverted),
    # then the other, since one screen often mixes both (a dark window with light buttons).
    dark = gray.resize((1, 1)).getpixel((0, 0)) < 128
    for polarity in ((ImageOps.invert(gray), gray) if dark else (gray, ImageOps.invert(gray))):
        found = _read(polarity, left, top)
        if found:
            return sorted(found, key=lambda line: line.distance(x, y))
    return []


def _read(gray: Image.Image, left: int, top: int) -> list[Line]:
    """The lines Tesseract finds in `gray` (dark text on light), placed at (left, top)."""
    import pytesseract

    # Black beyond a light window (an X root, a letterbox) throws Tesseract's layout analysis off
    # (it then finds no text at all): keep the lighter part only.
    inside = gray.point(lambda v: 255 if v > 24 else 0).getbbox()
    if inside is None:
        return []
    crop, left, top = gray.crop(inside), left + inside[0], top + inside[1]
    crop = crop.resize((crop.width * SCALE, crop.height * SCALE), Image.Resampling.BICUBIC)
    # Sparse text (11) finds labels scattered over a UI; where it finds none, as next to large
    # dark areas it sometimes does, the automatic layout (3) is asked too.
    words: dict[tuple[int, int, int], list[int]] = {}
    for mode in (11, 3):
        try:
            data = pytesseract.image_to_data(crop, config=f"--psm {mode}", output_type=pytesseract.Output.DICT,
                                             timeout=10)
        except (RuntimeError, pytesseract.TesseractError, OSError) as e:  # a timeout is a RuntimeError
            log.warning("OCR failed: %s", e)
            return []
        for i, word in enumerate(data["text"]):
            if word.strip() and float(data["conf"][i]) >= MIN_CONFIDENCE:
                words.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(i)
        if words:
            break
    lines = []
    for ids in words.values():
        l = min(data["left"][i] for i in ids) // SCALE + left
        t = min(data["top"][i] for i in ids) // SCALE + top
        r = max(data["left"][i] + data["width"][i] for i in ids) // SCALE + left
        b = max(data["top"][i] + data["height"][i] for i in ids) // SCALE + top
        lines.append(Line(" ".join(data["text"][i] for i in sorted(ids, key=lambda i: data["left"][i])), (l, t, r, b)))
    return lines
