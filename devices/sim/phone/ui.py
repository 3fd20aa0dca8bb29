"""The SimPhone's view toolkit: one tree of views that is drawn, dumped and touched.

Apps rebuild a tree of `View`s from their state every time the state changes (immediate mode).
The same tree is painted with Pillow, serialised as `uiautomator dump` XML and hit-tested for
input, so what is drawn, what the XML says and where a tap lands can never disagree.

Coordinates are always absolute screen pixels of the current orientation. A `Scroll` lays its
children out as if unscrolled, then shifts them by its offset and drops the ones that left the
viewport; partially visible ones are clipped when painted, dumped and hit-tested, like Android.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from PIL import Image, ImageDraw

from .text import drawable, text_mask

__all__ = ["Bounds", "Canvas", "FieldInfo", "Frame", "Scroll", "Theme", "View", "dump", "hit_path", "render"]

Bounds = tuple[int, int, int, int]  # left, top, right, bottom (right/bottom exclusive, as Android)

TEXT_VIEW = "android.widget.TextView"
FRAME = "android.widget.FrameLayout"
LINEAR = "android.widget.LinearLayout"
BUTTON = "android.widget.Button"
IMAGE_BUTTON = "android.widget.ImageButton"
EDIT_TEXT = "android.widget.EditText"
SWITCH = "android.widget.Switch"
SEEK_BAR = "android.widget.SeekBar"
RECYCLER = "androidx.recyclerview.widget.RecyclerView"
SCROLL_VIEW = "android.widget.ScrollView"
VIEW = "android.view.View"


# ----------------------------------------------------------------------------- theme and geometry

@dataclass(frozen=True)
class Theme:
    dark: bool
    bg: tuple
    surface: tuple        # cards, dialogs, fields
    surface2: tuple       # tonal containers (chips, bubbles, keyboard)
    text: tuple
    muted: tuple
    primary: tuple
    on_primary: tuple
    container: tuple      # primary container (FAB, selected tiles, outgoing bubbles)
    on_container: tuple
    divider: tuple
    error: tuple


LIGHT = Theme(False, (255, 255, 255), (243, 246, 252), (232, 237, 246), (31, 31, 31), (95, 99, 104),
              (11, 87, 208), (255, 255, 255), (211, 227, 253), (4, 30, 73), (218, 220, 224), (179, 38, 30))
DARK = Theme(True, (19, 19, 20), (30, 31, 32), (40, 42, 44), (227, 227, 227), (154, 160, 166),
             (168, 199, 250), (6, 46, 111), (8, 66, 160), (211, 227, 253), (60, 64, 67), (242, 184, 181))


class Frame:
    """Screen geometry for one build: size, density scale, system bar insets, theme."""

    def __init__(self, w: int, h: int, density: int, dark: bool, ime_h: int = 0):
        self.w, self.h = w, h
        self.scale = density / 160
        self.landscape = w > h
        self.theme = DARK if dark else LIGHT
        self.status_h = self.dp(24)
        self.nav_h = self.dp(20)
        self.ime_h = ime_h
        self.top = self.status_h
        self.bottom = h - self.nav_h - ime_h

    def dp(self, v: float) -> int:
        return int(round(v * self.scale))

    def content(self) -> Bounds:
        return (0, self.top, self.w, self.bottom)


# ----------------------------------------------------------------------------- canvas

class Canvas:
    """ImageDraw in screen coordinates, translated onto a layer (a scroll viewport) when needed."""

    def __init__(self, image: Image.Image, ox: int = 0, oy: int = 0):
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.ox, self.oy = ox, oy
        self.visible = (ox, oy, ox + image.width, oy + image.height)

    def _box(self, b: Bounds) -> list[int]:
        return [b[0] - self.ox, b[1] - self.oy, b[2] - self.ox - 1, b[3] - self.oy - 1]

    def rect(self, b: Bounds, fill=None, outline=None, width: int = 1, radius: int = 0) -> None:
        if b[2] <= b[0] or b[3] <= b[1]:
            return
        box = self._box(b)
        if radius > 0:
            radius = min(radius, (b[2] - b[0]) // 2, (b[3] - b[1]) // 2)
            self.draw.rounded_rectangle(box, radius, fill=fill, outline=outline, width=width)
        else:
            self.draw.rectangle(box, fill=fill, outline=outline, width=width)

    def circle(self, cx: float, cy: float, r: float, fill=None, outline=None, width: int = 1) -> None:
        x, y = cx - self.ox, cy - self.oy
        self.draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline=outline, width=width)

    def ellipse(self, b: Bounds, fill=None, outline=None, width: int = 1) -> None:
        self.draw.ellipse(self._box(b), fill=fill, outline=outline, width=width)

    def line(self, pts: list[tuple[float, float]], fill, width: int = 1) -> None:
        self.draw.line([(x - self.ox, y - self.oy) for x, y in pts], fill=fill, width=width, joint="curve")

    def polygon(self, pts: list[tuple[float, float]], fill, outline=None) -> None:
        self.draw.polygon([(x - self.ox, y - self.oy) for x, y in pts], fill=fill, outline=outline)

    def arc(self, b: Bounds, start: float, end: float, fill, width: int = 1) -> None:
        self.draw.arc(self._box(b), start, end, fill=fill, width=width)

    def pieslice(self, b: Bounds, start: float, end: float, fill, outline=None, width: int = 1) -> None:
        self.draw.pieslice(self._box(b), start, end, fill=fill, outline=outline, width=width)

    def text(self, x: float, y: float, s: str, px: int, fill, anchor: str = "la") -> None:
        m = text_mask(drawable(s), px, anchor) if s else None
        if m is not None:
            mask, dx, dy = m
            self.image.paste(fill, (int(round(x - self.ox)) + dx, int(round(y - self.oy)) + dy), mask)


# ----------------------------------------------------------------------------- views

@dataclass(eq=False)
class View:
    bounds: Bounds
    cls: str = VIEW
    text: str = ""
    rid: str = ""
    desc: str = ""
    clickable: bool = False
    long_clickable: bool = False
    focusable: bool = False
    focused: bool = False
    checkable: bool = False
    checked: bool = False
    scrollable: bool = False
    password: bool = False
    selected: bool = False
    enabled: bool = True
    paint: Callable[[Canvas, "View"], None] | None = None
    on_tap: Callable[[], Any] | None = None
    on_long: Callable[[], Any] | None = None
    on_drag: Callable[[int, int], Any] | None = None       # sliders: finger position
    on_swipe: Callable[[int, int], bool] | None = None     # (dx, dy) gestures nothing scrolled
    children: list["View"] = field(default_factory=list)
    in_xml: bool = True
    package: str = ""     # set on window roots; children inherit it in the XML
    field: Any = None     # FieldInfo for text fields
    clips: bool = False   # children are clipped to this view's bounds
    fill: Any = None      # background colour of a clipping layer

    def add(self, *views: "View") -> "View":
        self.children.extend(v for v in views if v is not None)
        return self

    def shift(self, dy: int) -> None:
        l, t, r, b = self.bounds
        self.bounds = (l, t + dy, r, b + dy)
        for c in self.children:
            c.shift(dy)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


@dataclass
class FieldInfo:
    owner: Any            # the Activity that holds the value in owner.fields[key]
    key: str
    multiline: bool = False
    password: bool = False
    select_all: bool = False   # first typing after focus replaces the text (time pickers)
    on_submit: Callable[[], Any] | None = None


class Scroll(View):
    """A vertically scrolling container; its offset lives in `store[key]` (the activity's)."""

    def __init__(self, bounds: Bounds, store: dict, key: str, *, reveal: bool = False, fill=None,
                 rid: str = "", cls: str = RECYCLER, stick_bottom: bool = False):
        super().__init__(bounds, cls=cls, rid=rid, clips=True, fill=fill)
        self.store, self.key, self.reveal, self.stick_bottom = store, key, reveal, stick_bottom
        self.max_offset = 0
        self.offset = 0

    def finish(self, content_bottom: int) -> "Scroll":
        """Call after adding children laid out unscrolled: clamp the offset, shift, drop the hidden."""
        top, bottom = self.bounds[1], self.bounds[3]
        self.max_offset = max(0, content_bottom - bottom)
        offset = self.store.get(self.key, self.max_offset if self.stick_bottom else 0)
        if self.reveal:  # bring the focused field into view, as Android does on focus and typing
            for v in self.walk():
                if v.focused and v.field is not None:
                    ft, fb = v.bounds[1], v.bounds[3]
                    if fb - offset > bottom:          # caret (at the end) below the viewport
                        offset = fb - bottom
                    if ft - offset < top and fb - ft <= bottom - top:
                        offset = ft - top
        self.offset = max(0, min(offset, self.max_offset))
        self.store[self.key] = self.offset
        self.scrollable = self.max_offset > 0
        for c in self.children:
            c.shift(-self.offset)
        # Off-screen rows leave the tree (and the dump), except a focused field: typing must reach it.
        self.children = [c for c in self.children if (c.bounds[3] > top and c.bounds[1] < bottom)
                         or any(v.focused for v in c.walk())]
        return self

    def can_scroll(self, delta: int) -> bool:
        return (delta > 0 and self.offset < self.max_offset) or (delta < 0 and self.offset > 0)

    def scroll_by(self, delta: int) -> None:
        self.store[self.key] = max(0, min(self.offset + delta, self.max_offset))


# ----------------------------------------------------------------------------- render / xml / hit

def render(view: View, canvas: Canvas) -> None:
    vis = canvas.visible
    b = view.bounds
    if b[2] <= vis[0] or b[0] >= vis[2] or b[3] <= vis[1] or b[1] >= vis[3]:
        return
    if view.paint is not None:
        view.paint(canvas, view)
    if not view.clips:
        for c in view.children:
            render(c, canvas)
        return
    clip = _clip(b, vis)
    for c in view.children:
        cb = c.bounds
        if cb[0] >= clip[0] and cb[1] >= clip[1] and cb[2] <= clip[2] and cb[3] <= clip[3]:
            render(c, canvas)   # wholly inside: draw directly (no layer to allocate)
            continue
        # Straddles the edge: draw it on a layer the size of its visible part, then paste that.
        part = _clip(cb, clip)
        if _empty(part):
            continue
        l, t, r, bt = part
        box = (l - canvas.ox, t - canvas.oy, r - canvas.ox, bt - canvas.oy)
        layer = Image.new("RGB", (r - l, bt - t), view.fill) if view.fill is not None else canvas.image.crop(box)
        render(c, Canvas(layer, l, t))
        canvas.image.paste(layer, box[:2])


def _clip(b: Bounds, c: Bounds | None) -> Bounds:
    if c is None:
        return b
    return (max(b[0], c[0]), max(b[1], c[1]), min(b[2], c[2]), min(b[3], c[3]))


def _empty(b: Bounds) -> bool:
    return b[2] <= b[0] or b[3] <= b[1]


def hit_path(view: View, x: int, y: int, clip: Bounds | None = None) -> list[View]:
    """Views under (x, y) from `view` down to the deepest, topmost one, respecting clipping."""
    b = _clip(view.bounds, clip)
    if not (b[0] <= x < b[2] and b[1] <= y < b[3]):
        return []
    inner = b if view.clips else clip
    for c in reversed(view.children):  # later children are drawn on top
        sub = hit_path(c, x, y, inner)
        if sub:
            return [view, *sub]
    return [view]


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;",
            "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_XML_ESC_RE = re.compile("[&<>\"'\n\r\t]")


def xml_attr(s: str) -> str:
    # Text is hostile by design (injection tests); the dump must stay well-formed whatever it is.
    s = _XML_BAD.sub("\ufffd", s)
    return _XML_ESC_RE.sub(lambda m: _XML_ESC[m.group()], s)


def _b(v: bool) -> str:
    return "true" if v else "false"


def dump_node(view: View, index: int, package: str, clip: Bounds | None, out: list[str]) -> None:
    b = _clip(view.bounds, clip)
    if _empty(b) or not view.in_xml:
        return
    package = view.package or package
    out.append(
        f'<node index="{index}" text="{xml_attr(view.text)}" resource-id="{xml_attr(view.rid)}" '
        f'class="{view.cls}" package="{package}" content-desc="{xml_attr(view.desc)}" '
        f'checkable="{_b(view.checkable)}" checked="{_b(view.checked)}" '
        f'clickable="{_b(view.clickable)}" enabled="{_b(view.enabled)}" '
        f'focusable="{_b(view.focusable)}" focused="{_b(view.focused)}" '
        f'scrollable="{_b(view.scrollable)}" long-clickable="{_b(view.long_clickable)}" '
        f'password="{_b(view.password)}" selected="{_b(view.selected)}" '
        f'bounds="[{b[0]},{b[1]}][{b[2]},{b[3]}]"')
    inner = b if view.clips else clip
    kids = [c for c in view.children if c.in_xml and not _empty(_clip(c.bounds, inner))]
    if not kids:
        out.append(" />")
        return
    out.append(">")
    for i, c in enumerate(kids):
        dump_node(c, i, package, inner, out)
    out.append("</node>")


def dump(windows: list[View], rotation: int, screen: Bounds) -> str:
    out = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>", f'<hierarchy rotation="{rotation}">']
    for i, w in enumerate(v for v in windows if v.in_xml):
        dump_node(w, i, w.package, screen, out)
    out.append("</hierarchy>")
    return "".join(out)
