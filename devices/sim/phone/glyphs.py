"""Material-like icons drawn from primitives (the bundled font has no symbol glyphs).

`glyph(canvas, name, cx, cy, size, color, bg)` draws the icon `name` centred on (cx, cy) inside a
size×size box. `bg` is the colour behind it, used to cut holes (gear, moon). Unknown names draw a
dot, so a typo shows up on screen rather than crashing a frame.
"""

from __future__ import annotations

import math

from .ui import Canvas


def _gear(c: Canvas, cx, cy, s, col, bg, w):
    pts = []
    for i in range(32):  # 8 teeth: alternate outer and inner radius every 4 steps
        a = math.pi * 2 * i / 32
        r = s * (0.46 if (i // 2) % 2 == 0 else 0.34)
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    c.polygon(pts, fill=col)
    c.circle(cx, cy, s * 0.15, fill=bg)


def _wifi(c: Canvas, cx, cy, s, col, bg, w):
    r = s * 0.55
    box = (int(cx - r), int(cy - r * 0.55), int(cx + r), int(cy + r * 1.45))
    c.pieslice(box, 225, 315, fill=col)


def _bluetooth(c: Canvas, cx, cy, s, col, bg, w):
    t, b, x0, dx = cy - s * 0.42, cy + s * 0.42, cx - s * 0.05, s * 0.22
    c.line([(x0, t), (x0, b)], col, w)
    c.line([(cx - s * 0.26, cy - s * 0.2), (x0 + dx, cy + s * 0.21), (x0, b)], col, w)
    c.line([(cx - s * 0.26, cy + s * 0.2), (x0 + dx, cy - s * 0.21), (x0, t)], col, w)


def _airplane(c: Canvas, cx, cy, s, col, bg, w):
    k = s / 24
    pts = [(0, -10), (1.5, -8.5), (1.5, -3), (10, 2), (10, 4), (1.5, 1.5), (1.5, 7), (4, 9), (4, 10.5),
           (0, 9.5), (-4, 10.5), (-4, 9), (-1.5, 7), (-1.5, 1.5), (-10, 4), (-10, 2), (-1.5, -3), (-1.5, -8.5)]
    c.polygon([(cx + x * k, cy + y * k) for x, y in pts], fill=col)


def _battery(c: Canvas, cx, cy, s, col, bg, w, level=1.0):
    bw, bh = s * 0.42, s * 0.8
    l, t = cx - bw / 2, cy - bh / 2 + s * 0.06
    c.rect((int(cx - bw * 0.2), int(t - s * 0.08), int(cx + bw * 0.2), int(t) + 1), fill=col)
    c.rect((int(l), int(t), int(l + bw), int(t + bh)), fill=col, radius=max(1, int(s * 0.06)))


def _person(c: Canvas, cx, cy, s, col, bg, w):
    c.circle(cx, cy - s * 0.16, s * 0.2, fill=col)
    c.pieslice((int(cx - s * 0.36), int(cy + s * 0.1), int(cx + s * 0.36), int(cy + s * 0.8)), 180, 360, fill=col)


def _chat(c: Canvas, cx, cy, s, col, bg, w):
    c.rect((int(cx - s * 0.4), int(cy - s * 0.36), int(cx + s * 0.4), int(cy + s * 0.24)), fill=col,
           radius=int(s * 0.1))
    c.polygon([(cx - s * 0.3, cy + s * 0.2), (cx - s * 0.3, cy + s * 0.44), (cx - s * 0.06, cy + s * 0.2)], fill=col)
    for dx in (-0.2, 0, 0.2):
        c.circle(cx + s * dx, cy - s * 0.06, s * 0.05, fill=bg)


def _clock(c: Canvas, cx, cy, s, col, bg, w):
    c.circle(cx, cy, s * 0.4, outline=col, width=w)
    c.line([(cx, cy - s * 0.24), (cx, cy), (cx + s * 0.17, cy + s * 0.1)], col, w)


def _calc(c: Canvas, cx, cy, s, col, bg, w):
    c.rect((int(cx - s * 0.36), int(cy - s * 0.42), int(cx + s * 0.36), int(cy + s * 0.42)), fill=col,
           radius=int(s * 0.08))
    q, r = s * 0.16, s * 0.08
    for gx, gy, sym in ((-1, -1, "-"), (1, -1, "+"), (-1, 1, "x"), (1, 1, "=")):
        x, y = cx + gx * q, cy + gy * q * 1.3
        if sym in "-+=":
            c.line([(x - r, y - (r / 2 if sym == "=" else 0)), (x + r, y - (r / 2 if sym == "=" else 0))], bg, w)
        if sym == "=":
            c.line([(x - r, y + r / 2), (x + r, y + r / 2)], bg, w)
        if sym == "+":
            c.line([(x, y - r), (x, y + r)], bg, w)
        if sym == "x":
            c.line([(x - r, y - r), (x + r, y + r)], bg, w)
            c.line([(x - r, y + r), (x + r, y - r)], bg, w)


def _note(c: Canvas, cx, cy, s, col, bg, w):
    c.rect((int(cx - s * 0.32), int(cy - s * 0.4), int(cx + s * 0.32), int(cy + s * 0.4)), fill=col,
           radius=int(s * 0.05))
    for i in range(3):
        y = cy - s * 0.18 + i * s * 0.16
        c.line([(cx - s * 0.18, y), (cx + s * (0.18 if i < 2 else 0.05), y)], bg, w)


def _globe(c: Canvas, cx, cy, s, col, bg, w):
    r = s * 0.42
    c.circle(cx, cy, r, outline=col, width=w)
    c.ellipse((int(cx - r * 0.45), int(cy - r), int(cx + r * 0.45), int(cy + r)), outline=col, width=w)
    c.line([(cx - r, cy), (cx + r, cy)], col, w)


def _plus(c: Canvas, cx, cy, s, col, bg, w):
    c.line([(cx - s * 0.32, cy), (cx + s * 0.32, cy)], col, w)
    c.line([(cx, cy - s * 0.32), (cx, cy + s * 0.32)], col, w)


def _minus(c: Canvas, cx, cy, s, col, bg, w):
    c.line([(cx - s * 0.32, cy), (cx + s * 0.32, cy)], col, w)


def _times(c: Canvas, cx, cy, s, col, bg, w):
    _close(c, cx, cy, s * 0.85, col, bg, w)


def _divide(c: Canvas, cx, cy, s, col, bg, w):
    _minus(c, cx, cy, s, col, bg, w)
    c.circle(cx, cy - s * 0.2, s * 0.06, fill=col)
    c.circle(cx, cy + s * 0.2, s * 0.06, fill=col)


def _back(c: Canvas, cx, cy, s, col, bg, w):
    c.line([(cx + s * 0.34, cy), (cx - s * 0.32, cy)], col, w)
    c.line([(cx - s * 0.02, cy - s * 0.3), (cx - s * 0.32, cy), (cx - s * 0.02, cy + s * 0.3)], col, w)


def _close(c: Canvas, cx, cy, s, col, bg, w):
    d = s * 0.28
    c.line([(cx - d, cy - d), (cx + d, cy + d)], col, w)
    c.line([(cx - d, cy + d), (cx + d, cy - d)], col, w)


def _check(c: Canvas, cx, cy, s, col, bg, w):
    c.line([(cx - s * 0.3, cy), (cx - s * 0.08, cy + s * 0.22), (cx + s * 0.32, cy - s * 0.2)], col, w)


def _chevron_up(c: Canvas, cx, cy, s, col, bg, w):
    c.line([(cx - s * 0.3, cy + s * 0.12), (cx, cy - s * 0.16), (cx + s * 0.3, cy + s * 0.12)], col, w)


def _chevron_right(c: Canvas, cx, cy, s, col, bg, w):
    c.line([(cx - s * 0.1, cy - s * 0.26), (cx + s * 0.16, cy), (cx - s * 0.1, cy + s * 0.26)], col, w)


def _trash(c: Canvas, cx, cy, s, col, bg, w):
    c.line([(cx - s * 0.34, cy - s * 0.26), (cx + s * 0.34, cy - s * 0.26)], col, w)
    c.line([(cx - s * 0.1, cy - s * 0.36), (cx + s * 0.1, cy - s * 0.36)], col, w)
    c.rect((int(cx - s * 0.25), int(cy - s * 0.2), int(cx + s * 0.25), int(cy + s * 0.4)), fill=col,
           radius=int(s * 0.05))


def _edit(c: Canvas, cx, cy, s, col, bg, w):
    k = s * 0.3
    c.polygon([(cx - k, cy + k * 0.6), (cx + k * 0.6, cy - k), (cx + k, cy - k * 0.6), (cx - k * 0.6, cy + k),
               (cx - k * 1.1, cy + k * 1.1)], fill=col)


def _send(c: Canvas, cx, cy, s, col, bg, w):
    c.polygon([(cx - s * 0.38, cy - s * 0.36), (cx + s * 0.4, cy), (cx - s * 0.38, cy + s * 0.36),
               (cx - s * 0.26, cy)], fill=col)


def _search(c: Canvas, cx, cy, s, col, bg, w):
    c.circle(cx - s * 0.07, cy - s * 0.07, s * 0.24, outline=col, width=w)
    c.line([(cx + s * 0.1, cy + s * 0.1), (cx + s * 0.36, cy + s * 0.36)], col, w)


def _sun(c: Canvas, cx, cy, s, col, bg, w):
    c.circle(cx, cy, s * 0.18, fill=col)
    for i in range(8):
        a = math.pi * i / 4
        c.line([(cx + s * 0.28 * math.cos(a), cy + s * 0.28 * math.sin(a)),
                (cx + s * 0.42 * math.cos(a), cy + s * 0.42 * math.sin(a))], col, w)


def _moon(c: Canvas, cx, cy, s, col, bg, w):
    c.circle(cx, cy, s * 0.38, fill=col)
    c.circle(cx + s * 0.18, cy - s * 0.14, s * 0.3, fill=bg)


def _bell(c: Canvas, cx, cy, s, col, bg, w):
    c.pieslice((int(cx - s * 0.3), int(cy - s * 0.38), int(cx + s * 0.3), int(cy + s * 0.5)), 180, 360, fill=col)
    c.rect((int(cx - s * 0.3), int(cy + s * 0.04), int(cx + s * 0.3), int(cy + s * 0.22)), fill=col)
    c.line([(cx - s * 0.4, cy + s * 0.24), (cx + s * 0.4, cy + s * 0.24)], col, w)
    c.circle(cx, cy + s * 0.36, s * 0.08, fill=col)


def _apps(c: Canvas, cx, cy, s, col, bg, w):
    for gx in (-1, 0, 1):
        for gy in (-1, 0, 1):
            c.circle(cx + gx * s * 0.28, cy + gy * s * 0.28, s * 0.09, fill=col)


def _lock(c: Canvas, cx, cy, s, col, bg, w):
    c.arc((int(cx - s * 0.2), int(cy - s * 0.42), int(cx + s * 0.2), int(cy + s * 0.02)), 180, 360, col, w)
    c.line([(cx - s * 0.2, cy - s * 0.2), (cx - s * 0.2, cy)], col, w)
    c.line([(cx + s * 0.2, cy - s * 0.2), (cx + s * 0.2, cy)], col, w)
    c.rect((int(cx - s * 0.32), int(cy - s * 0.04), int(cx + s * 0.32), int(cy + s * 0.42)), fill=col,
           radius=int(s * 0.06))


def _speaker(c: Canvas, cx, cy, s, col, bg, w):
    c.polygon([(cx - s * 0.38, cy - s * 0.12), (cx - s * 0.2, cy - s * 0.12), (cx + s * 0.02, cy - s * 0.34),
               (cx + s * 0.02, cy + s * 0.34), (cx - s * 0.2, cy + s * 0.12), (cx - s * 0.38, cy + s * 0.12)], fill=col)
    c.arc((int(cx - s * 0.1), int(cy - s * 0.24), int(cx + s * 0.26), int(cy + s * 0.24)), 300, 60, col, w)


def _storage(c: Canvas, cx, cy, s, col, bg, w):
    for i in range(3):
        y = cy - s * 0.3 + i * s * 0.22
        c.rect((int(cx - s * 0.36), int(y), int(cx + s * 0.36), int(y + s * 0.15)), fill=col, radius=int(s * 0.03))


def _info(c: Canvas, cx, cy, s, col, bg, w):
    c.circle(cx, cy, s * 0.4, fill=col)
    c.circle(cx, cy - s * 0.18, s * 0.05, fill=bg)
    c.line([(cx, cy - s * 0.04), (cx, cy + s * 0.22)], bg, w)


def _phone(c: Canvas, cx, cy, s, col, bg, w):
    c.rect((int(cx - s * 0.24), int(cy - s * 0.42), int(cx + s * 0.24), int(cy + s * 0.42)), fill=col,
           radius=int(s * 0.07))
    c.rect((int(cx - s * 0.17), int(cy - s * 0.32), int(cx + s * 0.17), int(cy + s * 0.26)), fill=bg)


def _mail(c: Canvas, cx, cy, s, col, bg, w):
    c.rect((int(cx - s * 0.4), int(cy - s * 0.28), int(cx + s * 0.4), int(cy + s * 0.28)), fill=col,
           radius=int(s * 0.04))
    c.line([(cx - s * 0.36, cy - s * 0.22), (cx, cy + s * 0.04), (cx + s * 0.36, cy - s * 0.22)], bg, w)


def _shift(c: Canvas, cx, cy, s, col, bg, w):
    c.polygon([(cx, cy - s * 0.36), (cx + s * 0.34, cy), (cx + s * 0.14, cy), (cx + s * 0.14, cy + s * 0.3),
               (cx - s * 0.14, cy + s * 0.3), (cx - s * 0.14, cy), (cx - s * 0.34, cy)], fill=col)


def _backspace(c: Canvas, cx, cy, s, col, bg, w):
    c.polygon([(cx - s * 0.42, cy), (cx - s * 0.18, cy - s * 0.28), (cx + s * 0.4, cy - s * 0.28),
               (cx + s * 0.4, cy + s * 0.28), (cx - s * 0.18, cy + s * 0.28)], fill=col)
    _close(c, cx + s * 0.1, cy, s * 0.6, bg, bg, w)


def _enter(c: Canvas, cx, cy, s, col, bg, w):
    c.line([(cx + s * 0.3, cy - s * 0.3), (cx + s * 0.3, cy + s * 0.1), (cx - s * 0.3, cy + s * 0.1)], col, w)
    c.line([(cx - s * 0.12, cy - s * 0.08), (cx - s * 0.3, cy + s * 0.1), (cx - s * 0.12, cy + s * 0.28)], col, w)


def _dot(c: Canvas, cx, cy, s, col, bg, w):
    c.circle(cx, cy, s * 0.2, fill=col)


_GLYPHS = {
    "gear": _gear, "wifi": _wifi, "bluetooth": _bluetooth, "airplane": _airplane, "battery": _battery,
    "person": _person, "chat": _chat, "clock": _clock, "calc": _calc, "note": _note, "globe": _globe,
    "plus": _plus, "minus": _minus, "times": _times, "divide": _divide, "back": _back, "close": _close, "check": _check,
    "chevron_up": _chevron_up, "chevron_right": _chevron_right, "trash": _trash, "edit": _edit,
    "send": _send, "search": _search, "sun": _sun, "moon": _moon, "bell": _bell, "apps": _apps,
    "lock": _lock, "speaker": _speaker, "storage": _storage, "info": _info, "phone": _phone,
    "mail": _mail, "shift": _shift, "backspace": _backspace, "enter": _enter, "dot": _dot,
}


def glyph(c: Canvas, name: str, cx: float, cy: float, size: float, color, bg=(255, 255, 255)) -> None:
    width = max(2, int(round(size / 11)))
    _GLYPHS.get(name, _dot)(c, cx, cy, size, color, bg, width)


def strike(c: Canvas, cx: float, cy: float, size: float, color, bg) -> None:
    """The diagonal 'off' bar Android puts through a disabled radio's icon."""
    d = size * 0.42
    w = max(2, int(round(size / 11)))
    c.line([(cx - d, cy - d), (cx + d, cy + d)], bg, w * 3)
    c.line([(cx - d, cy - d), (cx + d, cy + d)], color, w)
