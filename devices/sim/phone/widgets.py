"""Material-style widgets built on `ui.View`: each returns a view that paints itself and carries
the attributes uiautomator would report. Sizes are in dp/sp and scaled by the Frame's density."""

from __future__ import annotations

import zlib
from typing import Any, Callable

from . import ui
from .glyphs import glyph
from .text import ellipsize, line_height, tail_fit, text_width, wrap
from .ui import Bounds, Canvas, FieldInfo, Frame, View

_AVATAR_COLOURS = [(26, 115, 232), (217, 48, 37), (24, 128, 56), (227, 116, 0), (161, 66, 244),
                   (0, 137, 123), (233, 30, 99), (95, 99, 104), (121, 85, 72), (57, 73, 171)]


def avatar(c: Canvas, cx: float, cy: float, r: float, name: str) -> None:
    # crc32, not hash(): colours must not change between processes (PYTHONHASHSEED).
    col = _AVATAR_COLOURS[zlib.crc32(name.encode("utf-8", "replace")) % len(_AVATAR_COLOURS)]
    c.circle(cx, cy, r, fill=col)
    c.text(cx, cy, (name.strip()[:1] or "?").upper(), int(r * 0.95), (255, 255, 255), "mm")


def label(f: Frame, b: Bounds, text: str, *, size: float = 16, color=None, align: str = "left",
          rid: str = "", desc: str = "", cls: str = ui.TEXT_VIEW, on_tap: Callable | None = None,
          in_xml: bool = True) -> View:
    px = f.dp(size)
    col = color or f.theme.text

    def paint(c: Canvas, v: View) -> None:
        l, t, r, bt = v.bounds
        s = ellipsize(text, px, r - l)
        y = (t + bt) // 2
        if align == "center":
            c.text((l + r) // 2, y, s, px, col, "mm")
        elif align == "right":
            c.text(r, y, s, px, col, "rm")
        else:
            c.text(l, y, s, px, col, "lm")

    return View(b, cls=cls, text=text, rid=rid, desc=desc, paint=paint, on_tap=on_tap,
                clickable=on_tap is not None, in_xml=in_xml)


def paragraph(f: Frame, x: int, y: int, w: int, text: str, *, size: float = 16, color=None,
              rid: str = "", cls: str = ui.TEXT_VIEW, max_lines: int | None = None) -> View:
    """Wrapped multi-line text; only the lines inside the visible layer are drawn (long pages)."""
    px = f.dp(size)
    lh = line_height(px)
    lines = wrap(text, px, max(1, w))
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines - 1] + (ellipsize(lines[max_lines - 1] + " …", px, w),)
    col = color or f.theme.text

    def paint(c: Canvas, v: View) -> None:
        top = v.bounds[1]
        first = max(0, (c.visible[1] - top) // lh)
        last = min(len(lines), (c.visible[3] - top) // lh + 1)
        for i in range(first, last):
            c.text(v.bounds[0], top + i * lh + lh // 2, lines[i], px, col, "lm")

    return View((x, y, x + w, y + max(1, len(lines)) * lh), cls=cls, text=text, rid=rid, paint=paint)


def button(f: Frame, b: Bounds, text: str, on_tap: Callable, *, style: str = "filled", rid: str = "",
           desc: str = "", enabled: bool = True) -> View:
    th = f.theme
    px = f.dp(14)

    def paint(c: Canvas, v: View) -> None:
        radius = (v.bounds[3] - v.bounds[1]) // 2
        fg = th.primary
        if style == "filled":
            c.rect(v.bounds, fill=th.primary if enabled else th.divider, radius=radius)
            fg = th.on_primary if enabled else th.muted
        elif style == "tonal":
            c.rect(v.bounds, fill=th.container, radius=radius)
            fg = th.on_container
        elif style == "outlined":
            c.rect(v.bounds, outline=th.divider, width=max(1, f.dp(1)), radius=radius)
        if not enabled and style != "filled":
            fg = th.muted
        l, t, r, bt = v.bounds
        c.text((l + r) // 2, (t + bt) // 2, ellipsize(text, px, r - l - f.dp(8)), px, fg, "mm")

    return View(b, cls=ui.BUTTON, text=text, rid=rid, desc=desc, clickable=True, focusable=True,
                enabled=enabled, paint=paint, on_tap=on_tap if enabled else None)


def text_button_width(f: Frame, text: str) -> int:
    return text_width(text, f.dp(14)) + f.dp(32)


def icon_button(f: Frame, cx: int, cy: int, name: str, desc: str, on_tap: Callable | None, *,
                rid: str = "", color=None, size: float = 24, bg=None, enabled: bool = True) -> View:
    half = f.dp(24)
    col = color or f.theme.text
    back = bg or f.theme.bg

    def paint(c: Canvas, v: View) -> None:
        l, t, r, b = v.bounds
        glyph(c, name, (l + r) // 2, (t + b) // 2, f.dp(size), col if enabled else f.theme.muted, back)

    return View((cx - half, cy - half, cx + half, cy + half), cls=ui.IMAGE_BUTTON, desc=desc, rid=rid,
                clickable=True, focusable=True, enabled=enabled, paint=paint,
                on_tap=on_tap if enabled else None)


def fab(f: Frame, name: str, desc: str, on_tap: Callable, *, rid: str = "", text: str = "") -> View:
    th = f.theme
    h = f.dp(56)
    w = h if not text else f.dp(56 + 12) + text_width(text, f.dp(14))
    r, b = f.w - f.dp(16), f.bottom - f.dp(16)
    bounds = (r - w, b - h, r, b)

    def paint(c: Canvas, v: View) -> None:
        c.rect(v.bounds, fill=th.container, radius=f.dp(16))
        gx = v.bounds[0] + h // 2
        glyph(c, name, gx, (v.bounds[1] + v.bounds[3]) // 2, f.dp(24), th.on_container, th.container)
        if text:
            c.text(gx + f.dp(22), (v.bounds[1] + v.bounds[3]) // 2, text, f.dp(14), th.on_container, "lm")

    return View(bounds, cls=ui.BUTTON if text else ui.IMAGE_BUTTON, text=text, desc=desc, rid=rid,
                clickable=True, focusable=True, paint=paint, on_tap=on_tap)


def switch(f: Frame, b: Bounds, checked: bool, on_tap: Callable, *, rid: str = "", desc: str = "") -> View:
    th = f.theme

    def paint(c: Canvas, v: View) -> None:
        l, t, r, bt = v.bounds
        cx, cy = (l + r) // 2, (t + bt) // 2
        tw, tht = f.dp(52), f.dp(32)
        track = (cx - tw // 2, cy - tht // 2, cx + tw // 2, cy + tht // 2)
        if checked:
            c.rect(track, fill=th.primary, radius=tht // 2)
            c.circle(track[2] - tht // 2, cy, f.dp(12), fill=th.on_primary)
        else:
            c.rect(track, fill=th.surface2, outline=th.muted, width=max(2, f.dp(2)), radius=tht // 2)
            c.circle(track[0] + tht // 2, cy, f.dp(8), fill=th.muted)

    return View(b, cls=ui.SWITCH, rid=rid, desc=desc, checkable=True, checked=checked, clickable=True,
                focusable=True, paint=paint, on_tap=on_tap)


def _row_texts(f: Frame, row: View, x: int, right: int, title: str, summary: str | None,
               title_rid: str = "android:id/title", summary_rid: str = "android:id/summary") -> None:
    t, b = row.bounds[1], row.bounds[3]
    mid = (t + b) // 2
    if summary:
        row.add(label(f, (x, mid - f.dp(22), right, mid), title, size=16, rid=title_rid),
                label(f, (x, mid, right, mid + f.dp(20)), summary, size=14, color=f.theme.muted, rid=summary_rid))
    else:
        row.add(label(f, (x, t, right, b), title, size=16, rid=title_rid))


def switch_row(f: Frame, y: int, title: str, summary: str | None, checked: bool, on_toggle: Callable,
               *, rid: str) -> View:
    h = f.dp(72 if summary else 56)
    row = View((0, y, f.w, y + h), cls=ui.LINEAR, clickable=True, focusable=True, on_tap=on_toggle)
    sw_w = f.dp(64)
    _row_texts(f, row, f.dp(24), f.w - sw_w - f.dp(32), title, summary)
    row.add(switch(f, (f.w - sw_w - f.dp(16), y + (h - f.dp(48)) // 2, f.w - f.dp(16), y + (h + f.dp(48)) // 2),
                   checked, on_toggle, rid=rid, desc=title))
    return row


def nav_row(f: Frame, y: int, title: str, summary: str | None, on_tap: Callable | None, *,
            icon: str | None = None, icon_bg=None, avatar_name: str | None = None, rid: str = "",
            desc: str = "", height: float | None = None, long_tap: Callable | None = None) -> View:
    h = f.dp(height or (72 if summary else 56))
    th = f.theme
    x = f.dp(24)
    lead = icon is not None or avatar_name is not None

    def paint(c: Canvas, v: View) -> None:
        cx, cy = f.dp(16 + 20), (v.bounds[1] + v.bounds[3]) // 2
        if avatar_name is not None:
            avatar(c, cx, cy, f.dp(20), avatar_name)
        elif icon is not None:
            if icon_bg is not None:
                c.circle(cx, cy, f.dp(20), fill=icon_bg)
                glyph(c, icon, cx, cy, f.dp(22), (255, 255, 255), icon_bg)
            else:
                glyph(c, icon, cx, cy, f.dp(24), th.muted, th.bg)

    row = View((0, y, f.w, y + h), cls=ui.LINEAR, rid=rid, desc=desc, clickable=on_tap is not None,
               focusable=on_tap is not None, long_clickable=long_tap is not None, paint=paint,
               on_tap=on_tap, on_long=long_tap)
    _row_texts(f, row, x + (f.dp(56) if lead else 0), f.w - f.dp(24), title, summary)
    return row


def list_screen(f: Frame, scroll: Any, title: str, *, rid: str, items: list, row: Callable[[Any, int], View],
                empty: str, pad: int = 0, gap: int = 0) -> tuple[View, View]:
    """An app's home list: the large app bar titled `title` and under it a scrolling list (`rid`)
    of `row(item, y)` for each item, `gap` dp apart and `pad` dp from the bar, or `empty` centred
    when there are none; room is left under the last row for a floating action button. Returns
    (app bar, list)."""
    bar = app_bar(f, title, large=True)
    top = bar.bounds[3]
    lst = ui.Scroll((0, top, f.w, f.bottom), scroll, "list", rid=rid, fill=f.theme.bg)
    y = top + f.dp(pad)
    for item in items:
        view = row(item, y)
        lst.add(view)
        y = view.bounds[3] + f.dp(gap)
    if not items:
        lst.add(label(f, (0, y, f.w, y + f.dp(64)), empty, align="center", color=f.theme.muted))
        y += f.dp(64)
    lst.finish(y + f.dp(88))  # so the floating action button never hides the last row
    return bar, lst


def divider(f: Frame, y: int, inset: int = 0) -> View:
    col = f.theme.divider
    return View((inset, y, f.w - inset, y + max(1, f.dp(1))), in_xml=False,
                paint=lambda c, v: c.rect(v.bounds, fill=col))


def app_bar(f: Frame, title: str, *, on_up: Callable | None = None, actions: list[View] = (),
            large: bool = False, rid: str = "") -> View:
    """Top app bar under the status bar. `actions` are placed right to left (use `bar_action`)."""
    th = f.theme
    large = large and not f.landscape
    h = f.dp(112 if large else 64)
    top = f.top
    bar = View((0, top, f.w, top + h), cls=ui.FRAME, paint=lambda c, v: c.rect(v.bounds, fill=th.bg))
    row_cy = top + f.dp(32)
    if on_up is not None:
        bar.add(icon_button(f, f.dp(28), row_cy, "back", "Navigate up", on_up, rid=""))
    x = f.dp(72) if on_up is not None else f.dp(16)
    right = f.w - f.dp(8)
    for a in actions:  # actions are built with their own width; lay them out from the right
        w = a.bounds[2] - a.bounds[0]
        l = right - w
        _place(a, l, row_cy - (a.bounds[3] - a.bounds[1]) // 2)
        right = l - f.dp(4)
        bar.add(a)
    if large:
        bar.add(label(f, (f.dp(16), top + f.dp(64), f.w - f.dp(16), top + h - f.dp(8)), title, size=28, rid=rid))
    else:
        bar.add(label(f, (x, top, right, top + f.dp(64)), title, size=22, rid=rid))
    return bar


def _place(v: View, x: int, y: int) -> None:
    dx, dy = x - v.bounds[0], y - v.bounds[1]

    def move(n: View) -> None:
        l, t, r, b = n.bounds
        n.bounds = (l + dx, t + dy, r + dx, b + dy)
        for ch in n.children:
            move(ch)
    move(v)


def bar_action(f: Frame, *, text: str = "", icon: str = "", desc: str = "", on_tap: Callable,
               rid: str = "", enabled: bool = True) -> View:
    """An app bar action: a text button ("Save") or an icon button; positioned by app_bar."""
    if text:
        w = text_button_width(f, text)
        return button(f, (0, 0, w, f.dp(40)), text, on_tap, style="filled", rid=rid, desc=desc, enabled=enabled)
    v = icon_button(f, f.dp(24), f.dp(24), icon, desc, on_tap, rid=rid, enabled=enabled)
    return v


def text_field(f: Frame, act: Any, key: str, x: int, y: int, w: int, *, label_text: str, rid: str,
               multiline: bool = False, password: bool = False, select_all: bool = False,
               min_lines: int = 1, on_submit: Callable | None = None, size: float = 16,
               align: str = "left") -> View:
    """An outlined EditText bound to act.fields[key]; tap focuses it (and shows the keyboard)."""
    th = f.theme
    px = f.dp(size)
    lh = line_height(px)
    value = act.fields.get(key, "")
    focused = act.focus == key
    pad = f.dp(16)
    inner = w - 2 * pad
    shown = "•" * len(value) if password else value
    lines = wrap(shown, px, inner) if multiline else (tail_fit(shown, px, inner),)
    n = max(min_lines, len(lines)) if multiline else 1
    h = max(f.dp(56), n * lh + 2 * f.dp(14))
    selecting = focused and act.select_all and bool(value)

    def paint(c: Canvas, v: View) -> None:
        l, t, r, b = v.bounds
        c.rect(v.bounds, fill=th.bg, outline=th.primary if focused else th.muted,
               width=f.dp(2) if focused else max(1, f.dp(1)), radius=f.dp(4))
        small = f.dp(12)
        if value or focused:  # floating label sits in a notch on the top border
            lw = text_width(label_text, small)
            c.rect((l + pad - f.dp(4), t - small // 2, l + pad + lw + f.dp(4), t + small // 2 + 1), fill=th.bg)
            c.text(l + pad, t, label_text, small, th.primary if focused else th.muted, "lm")
        if not value:
            if not focused:
                c.text(l + pad, t + h // 2 if not multiline else t + f.dp(14) + lh // 2, label_text, px, th.muted, "lm")
            cx, cy = l + pad, (t + f.dp(14) + lh // 2) if multiline else (t + b) // 2
        else:
            top = t + (f.dp(14) if multiline else (h - lh) // 2)
            cx = cy = 0
            for i, line in enumerate(lines):
                ly = top + i * lh + lh // 2
                if c.visible[1] - lh <= ly <= c.visible[3] + lh:
                    lx = l + pad if align == "left" else (l + r) // 2 - text_width(line, px) // 2
                    if selecting:
                        c.rect((lx, ly - lh // 2, lx + text_width(line, px), ly + lh // 2), fill=th.container)
                    if password:
                        for k in range(len(line)):
                            c.circle(lx + k * px * 0.6 + px * 0.3, ly, px * 0.16, fill=th.text)
                    else:
                        c.text(lx, ly, line, px, th.text, "lm")
                cx, cy = lx + (len(line) * px * 0.6 if password else text_width(line, px)), ly
        if focused and not selecting:
            c.rect((int(cx) + 1, cy - lh // 2 + f.dp(3), int(cx) + 1 + max(2, f.dp(2)), cy + lh // 2 - f.dp(3)),
                   fill=th.primary)

    info = FieldInfo(act, key, multiline=multiline, password=password, select_all=select_all, on_submit=on_submit)
    return View((x, y, x + w, y + h), cls=ui.EDIT_TEXT, text=shown if value else label_text, rid=rid,
                clickable=True, long_clickable=True, focusable=True, focused=focused, password=password,
                paint=paint, on_tap=lambda: act.request_focus(key, select_all), field=info)


def slider(f: Frame, b: Bounds, value: int, lo: int, hi: int, on_change: Callable[[int], Any], *,
           rid: str = "", desc: str = "") -> View:
    """A SeekBar. Its node's bounds are the track: x = left maps to `lo`, x = right - 1 to `hi`."""
    th = f.theme
    l, r = b[0], b[2]
    span = max(1, r - l - 1)

    def value_at(x: int, _y: int) -> None:
        on_change(max(lo, min(hi, round(lo + (x - l) * (hi - lo) / span))))

    def paint(c: Canvas, v: View) -> None:
        cy = (v.bounds[1] + v.bounds[3]) // 2
        pos = l + (value - lo) * span // max(1, hi - lo)
        c.rect((l, cy - f.dp(2), r, cy + f.dp(2)), fill=th.surface2, radius=f.dp(2))
        c.rect((l, cy - f.dp(3), pos, cy + f.dp(3)), fill=th.primary, radius=f.dp(3))
        c.circle(pos, cy, f.dp(10), fill=th.primary)

    return View(b, cls=ui.SEEK_BAR, text=str(value), rid=rid, desc=desc, clickable=True, focusable=True,
                scrollable=False, paint=paint, on_drag=value_at)


def fill(b: Bounds, colour, radius: int = 0) -> View:
    """A painted background/decoration that is not part of the accessibility tree."""
    return View(b, in_xml=False, paint=lambda c, v: c.rect(v.bounds, fill=colour, radius=radius))
