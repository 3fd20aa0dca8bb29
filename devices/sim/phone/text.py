"""Text for the SimPhone: the bundled font at any size, measuring, wrapping, eliding, rasterising.

Pillow's bundled Aileron (scalable since Pillow 10.1) is the only font, so frames are identical on
every machine. It covers ASCII only: accented letters are drawn without their accents and CJK or
emoji as boxes. XML and state always keep the real text; only drawing substitutes.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

# Aileron (Pillow's bundled font) covers ASCII only; draw near look-alikes for the common
# symbols and letters it lacks. Only the drawing is substituted: XML and state keep the real text.
_FALLBACK = str.maketrans({"×": "x", "÷": "/", "−": "-", "–": "-", "—": "-", "•": "·", "€": "EUR",
                           "£": "GBP", "®": "(R)", "✓": "v", "←": "<", "→": ">", "Ł": "L", "ł": "l",
                           "ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
                           "đ": "d", "Đ": "D", "ı": "i", "þ": "th", "Þ": "Th", "ð": "d", "¿": "?", "¡": "!"})


@functools.lru_cache(maxsize=None)
def font(px: int) -> ImageFont.FreeTypeFont:
    # BASIC layout: identical frames whether or not libraqm is installed, and faster.
    base = ImageFont.load_default(size=max(1, px))
    return base.font_variant(layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=None)
def _has_glyph(ch: str) -> bool:
    # The bundled Aileron is ASCII-only; a missing glyph renders as the same .notdef box as U+E000.
    return bytes(font(20).getmask(ch)) != _notdef() or ch.isspace()


@functools.lru_cache(maxsize=1)
def _notdef() -> bytes:
    return bytes(font(20).getmask("\ue000"))


@functools.lru_cache(maxsize=4096)
def drawable(s: str) -> str:
    """What to draw for `s`: accented letters lose their accents (José -> Jose) rather than turning
    into boxes; scripts the font lacks entirely (CJK, emoji) stay as boxes."""
    s = s.translate(_FALLBACK)
    if s.isascii():
        return s
    out = []
    for ch in s:
        if ch.isascii() or _has_glyph(ch):
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if c.isascii() or _has_glyph(c))
        out.append(base or ch)
    return "".join(out)


@functools.lru_cache(maxsize=8192)
def text_width(s: str, px: int) -> int:
    return int(font(px).getlength(drawable(s)))


def line_height(px: int) -> int:
    return int(px * 1.4)


def _most_that_fit(n: int, fits: Callable[[int], bool]) -> int:
    """The largest k in 0..n for which fits(k), where fits holds up to some k and not after."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


@functools.lru_cache(maxsize=4096)
def ellipsize(s: str, px: int, max_w: int) -> str:
    """`s` on one line, or its longest beginning that fits with an ellipsis after it."""
    s = s.replace("\n", " ")
    if text_width(s, px) <= max_w:
        return s
    return s[:_most_that_fit(len(s), lambda k: text_width(s[:k] + "…", px) <= max_w)] + "…"


@functools.lru_cache(maxsize=4096)
def tail_fit(s: str, px: int, max_w: int) -> str:
    """The end of a single-line field's text that fits (the caret sits at the end)."""
    s = s.replace("\n", " ")
    if text_width(s, px) <= max_w:
        return s
    return s[len(s) - _most_that_fit(len(s), lambda k: text_width(s[len(s) - k:], px) <= max_w):]


@functools.lru_cache(maxsize=1024)
def wrap(s: str, px: int, max_w: int) -> tuple[str, ...]:
    """Greedy word wrap that keeps explicit newlines and breaks words (or CJK runs) that are too long."""
    lines: list[str] = []
    for para in s.split("\n"):
        line = ""
        for word in re.findall(r"\S+\s*|\s+", para) or [""]:
            if text_width(line + word.rstrip(), px) <= max_w:
                line += word
                continue
            if line:
                lines.append(line.rstrip())
                line = ""
            while text_width(word.rstrip(), px) > max_w:  # hard-break a word wider than the line
                cut = max(1, len(head_fit(word, px, max_w)))
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line.rstrip())
    return tuple(lines)


def head_fit(s: str, px: int, max_w: int) -> str:
    lo, hi = 1, len(s)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_width(s[:mid], px) <= max_w:
            lo = mid
        else:
            hi = mid - 1
    return s[:lo]


@functools.lru_cache(maxsize=2048)
def text_mask(s: str, px: int, anchor: str) -> tuple[Image.Image, int, int] | None:
    """Rasterised text, cached: FreeType rendering is most of a frame's cost and the same strings
    (labels, list rows, keyboard keys) are drawn frame after frame."""
    f = font(px)
    l, t, r, b = f.getbbox(s, anchor=anchor)
    if r <= l or b <= t:
        return None
    mask = Image.new("L", (r - l, b - t), 0)
    ImageDraw.Draw(mask).text((-l, -t), s, font=f, fill=255, anchor=anchor)
    return mask, l, t
