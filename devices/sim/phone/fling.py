"""How far and how long a list keeps moving after the finger lifts: Android's fling physics.

Android's lists (RecyclerView, ScrollView) fling with `OverScroller`, whose SplineOverScroller
models a decelerating slide: for a release velocity v (px/s) it travels
`friction * k * exp(D / (D - 1) * l)` pixels in `exp(l / (D - 1))` seconds, where
`l = ln(INFLEXION * |v| / (friction * k))`, `D = ln(0.78) / ln(0.9)` (DECELERATION_RATE),
INFLEXION = 0.35, friction = ViewConfiguration.getScrollFriction() = 0.015 and
`k = g * 39.37 in/m * ppi * 0.84` (GRAVITY_EARTH, the screen's ppi = its density in dpi).
The position follows a spline through the inflexion (start tension 0.5, end tension 1.0):
fast at first, then slowing to a stop. A fling needs ViewConfiguration's minimum velocity
(50 dp/s) and is capped at its maximum (8000 dp/s); at a list's end it stops short, as
OverScroller shortens the duration to the moment the edge is reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DECELERATION_RATE = math.log(0.78) / math.log(0.9)
INFLEXION = 0.35
SCROLL_FRICTION = 0.015
START_TENSION, END_TENSION = 0.5, 1.0
MIN_FLING_DP_S, MAX_FLING_DP_S = 50, 8000
_P1, _P2 = START_TENSION * INFLEXION, 1.0 - END_TENSION * (1.0 - INFLEXION)


def _physical_coeff(dpi: int) -> float:
    return 9.80665 * 39.37 * dpi * 0.84


def fling(velocity: float, dpi: int) -> tuple[float, float]:
    """(distance px, duration s) of a fling released at `velocity` px/s (sign kept on distance)."""
    speed = min(abs(velocity), MAX_FLING_DP_S * dpi / 160)
    if speed < MIN_FLING_DP_S * dpi / 160:
        return 0.0, 0.0
    base = SCROLL_FRICTION * _physical_coeff(dpi)
    l = math.log(INFLEXION * speed / base)
    duration = math.exp(l / (DECELERATION_RATE - 1.0))
    distance = base * math.exp(DECELERATION_RATE / (DECELERATION_RATE - 1.0) * l)
    return math.copysign(distance, velocity), duration


def spline_position(t: float) -> float:
    """Fraction of the fling's distance covered at fraction `t` of its duration."""
    if t <= 0.0:
        return 0.0
    if t >= 1.0:
        return 1.0
    lo, hi = 0.0, 1.0      # the spline is parametric: find the parameter whose time is t
    for _ in range(40):
        x = (lo + hi) / 2
        coef = 3.0 * x * (1.0 - x)
        if coef * ((1.0 - x) * _P1 + x * _P2) + x ** 3 < t:
            lo = x
        else:
            hi = x
    x = (lo + hi) / 2
    coef = 3.0 * x * (1.0 - x)
    return coef * ((1.0 - x) * START_TENSION + x) + x ** 3


@dataclass
class Scroll:
    """One list's movement: the finger's drag (linear, `drag_s`), then the fling.

    `store[key]` is where the list keeps its offset (ui.Scroll); it already holds `end`, since
    the phone's state is the settled one; `offset(t)` is what the screen shows t s in.
    """
    store: dict
    key: str
    start: int
    dragged: int          # the offset when the finger lifts
    fling_px: float       # the fling's full (unclamped) distance
    fling_s: float
    drag_s: float
    end: int
    duration: float = 0.0

    def __post_init__(self) -> None:
        self.duration = self.drag_s + self._fling_time_to(self.end)

    def _fling_time_to(self, target: int) -> float:
        """Seconds of fling until `target` (the clamped end) is reached: all of it, or less at an edge."""
        if not self.fling_px or self.fling_s <= 0:
            return 0.0
        want = (target - self.dragged) / self.fling_px
        if want >= 1.0:
            return self.fling_s
        lo, hi = 0.0, 1.0
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if spline_position(mid) < want else (lo, mid)
        return hi * self.fling_s

    def offset(self, t: float) -> int:
        if t >= self.duration:
            return self.end
        if t < self.drag_s:
            return round(self.start + (self.dragged - self.start) * t / self.drag_s)
        moved = self.fling_px * spline_position((t - self.drag_s) / self.fling_s)
        lo, hi = sorted((self.dragged, self.end))
        return round(max(lo, min(hi, self.dragged + moved)))


def plan(store: dict, key: str, offset: int, max_offset: int, delta: int, duration_ms: int, dpi: int) -> Scroll:
    """The scroll a swipe of `delta` px (content offset change) over `duration_ms` starts."""
    dragged = max(0, min(offset + delta, max_offset))
    drag_s = max(0, duration_ms) / 1000
    # `input swipe` moves the finger at a constant speed, so the release velocity is the drag's.
    velocity = delta / drag_s if drag_s > 0 else math.copysign(math.inf, delta)
    fling_px, fling_s = fling(velocity, dpi) if dragged == offset + delta else (0.0, 0.0)
    end = round(max(0, min(dragged + fling_px, max_offset)))
    return Scroll(store, key, offset, dragged, fling_px, fling_s, drag_s, end)
