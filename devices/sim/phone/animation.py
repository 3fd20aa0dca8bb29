"""SimPhone's transitions: how long Android 13/14 takes to move between two screens, and the
frames a capture sees meanwhile.

`Phone(animations="real")` turns them on (the default, "off", redraws at once, as before).
Durations and curves are Android's defaults (docs/simphone.md, "Animations", lists each one and
where it comes from), multiplied as on a phone by the global settings `transition_animation_scale`
(activity transitions run by the window manager), `window_animation_scale` (dialog windows) and
`animator_duration_scale` (the launcher's and System UI's animators: app launch from an icon, back
to home, overview, the shade); 0 makes a transition instant. Flings (fling.py) follow
OverScroller, which no scale changes, as on a phone.

The phone's state changes at once; only the picture lags. A transition starts from the frame on
screen at that moment (mid-way through another one, if one runs) and ends on the new state's frame,
which is redrawn as usual if the state changes again meanwhile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from PIL import Image

from .fling import Scroll

MODES = ("off", "real")


# -- interpolators ------------------------------------------------------------------------------

def _bezier(x1: float, y1: float, x2: float, y2: float) -> Callable[[float], float]:
    """A cubic-bezier easing from (0,0) to (1,1) (android.view.animation.PathInterpolator)."""
    def at(s: float, a: float, b: float) -> float:
        return 3 * (1 - s) ** 2 * s * a + 3 * (1 - s) * s * s * b + s ** 3

    def ease(x: float) -> float:
        if x <= 0.0 or x >= 1.0:
            return min(1.0, max(0.0, x))
        lo, hi = 0.0, 1.0
        for _ in range(30):   # x(s) is monotonic for these curves: bisection is exact enough
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if at(mid, x1, x2) < x else (lo, mid)
        return at((lo + hi) / 2, y1, y2)
    return ease


def _fast_out_extra_slow_in(x: float) -> float:
    """Material's emphasized curve: the path M0,0 C.05,0 .133333,.06 .166666,.4 C.208333,.82 .25,1 1,1
    (two cubic segments, joined at x = .166666)."""
    if x <= 0.0 or x >= 1.0:
        return min(1.0, max(0.0, x))
    joint = 0.166666
    if x < joint:
        return 0.4 * _FOESI_HEAD(x / joint)
    return 0.4 + 0.6 * _FOESI_TAIL((x - joint) / (1 - joint))


# The two segments normalised to the unit square, so _bezier can solve them.
_FOESI_HEAD = _bezier(0.05 / 0.166666, 0.0, 0.133333 / 0.166666, 0.06 / 0.4)
_FOESI_TAIL = _bezier((0.208333 - 0.166666) / 0.833334, (0.82 - 0.4) / 0.6, (0.25 - 0.166666) / 0.833334, 1.0)

FAST_OUT_SLOW_IN = _bezier(0.4, 0.0, 0.2, 1.0)
STANDARD = _bezier(0.2, 0.0, 0.0, 1.0)                 # @interpolator/standard
STANDARD_ACCELERATE = _bezier(0.3, 0.0, 1.0, 1.0)      # @interpolator/standard_accelerate
FAST_OUT_EXTRA_SLOW_IN = _fast_out_extra_slow_in


def _phase(t_ms: float, start: float, length: float) -> float:
    """Linear progress of a sub-animation with a start offset (an XML `startOffset` + `duration`)."""
    return min(1.0, max(0.0, (t_ms - start) / length))


# -- the transitions ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    ms: int          # at scale 1
    scale: str       # the global setting that scales it


SPECS = {
    "activity_open": Spec(450, "transition_animation_scale"),   # activity_open_enter / _exit
    "activity_close": Spec(450, "transition_animation_scale"),  # activity_close_enter / _exit
    "app_launch": Spec(450, "animator_duration_scale"),         # Launcher3 APP_LAUNCH_DURATION
    "app_close": Spec(250, "animator_duration_scale"),          # Launcher3 CLOSING_TRANSITION_DURATION_MS
    "recents": Spec(336, "animator_duration_scale"),            # Launcher3 RECENTS_LAUNCH_DURATION
    "dialog_open": Spec(220, "window_animation_scale"),         # popup_enter_material, config_activityDefaultDur
    "dialog_close": Spec(150, "window_animation_scale"),        # popup_exit_material, config_activityShortDur
    "shade_open": Spec(600, "animator_duration_scale"),         # System UI FLING_MAX_LENGTH_SECONDS
    "shade_close": Spec(600, "animator_duration_scale"),        # FLING_CLOSING_MAX_LENGTH_SECONDS
}


@dataclass(frozen=True)
class Scene:
    """What decides which transition a change makes (the rest of the screen just redraws)."""
    stack: tuple[int, ...]     # ids of the activities, the launcher first
    overview: bool
    shade: bool
    dialog: bool
    awake: bool
    rotation: int              # a rotation, like the screen going off or on, redraws at once here


def classify(before: Scene, after: Scene, touched: bool) -> str | None:
    """The transition from `before` to `after`; touched: the change came from a tap (on an icon)."""
    if not (before.awake and after.awake) or before.rotation != after.rotation or before == after:
        return None
    if before.overview != after.overview:
        return "recents"
    if before.stack != after.stack:
        old, new = before.stack, after.stack
        if len(new) == 1:
            return "app_close"
        if len(old) == 1:
            # From an icon the launcher animates the window out of it; `am start` and app keys get
            # the window manager's default activity transition.
            return "app_launch" if touched else "activity_open"
        if len(new) < len(old) and old[:len(new)] == new:
            return "activity_close"
        return "activity_open"
    if before.dialog != after.dialog:
        return "dialog_open" if after.dialog else "dialog_close"
    if before.shade != after.shade:
        return "shade_open" if after.shade else "shade_close"
    return None


def _shift(img: Image.Image, dx: int, dy: int = 0) -> Image.Image:
    """`img` moved by (dx, dy); the uncovered strip repeats the edge (the XMLs' `extend`)."""
    if not dx and not dy:
        return img
    w, h = img.size
    out = Image.new(img.mode, img.size)
    out.paste(img, (dx, dy))
    if dx > 0:
        out.paste(img.crop((0, 0, 1, h)).resize((dx, h)), (0, 0))
    elif dx < 0:
        out.paste(img.crop((w - 1, 0, w, h)).resize((-dx, h)), (w + dx, 0))
    if dy > 0:
        out.paste(img.crop((0, 0, w, 1)).resize((w, dy)), (0, 0))
    return out


def _over(base: Image.Image, top: Image.Image, alpha: float) -> Image.Image:
    if alpha <= 0.0:
        return base
    return top if alpha >= 1.0 else Image.blend(base, top, alpha)


def compose(kind: str, t_ms: float, before: Image.Image, after: Image.Image, dp: float,
            origin: tuple[int, int] | None) -> Image.Image:
    """The frame `t_ms` (unscaled) into `kind`, from the `before` frame to the `after` one."""
    w, h = after.size
    slide = round(96 * dp)   # activity transitions move 96dp sideways
    if kind == "activity_open":        # enter: alpha 0→1 (linear, +50 ms, 83 ms), x +96dp→0; exit: x 0→-96dp
        p = FAST_OUT_EXTRA_SLOW_IN(t_ms / 450)
        return _over(_shift(before, -round(slide * p)), _shift(after, round(slide * (1 - p))), _phase(t_ms, 50, 83))
    if kind == "activity_close":       # enter: x -96dp→0; exit (on top): x 0→+96dp, alpha 1→0 (+35 ms, 83 ms)
        p = FAST_OUT_EXTRA_SLOW_IN(t_ms / 450)
        return _over(_shift(after, -round(slide * (1 - p))), _shift(before, round(slide * p)),
                     1.0 - _phase(t_ms, 35, 83))
    if kind == "app_launch":           # the window grows out of the icon, fading in (+25 ms, 50 ms)
        p = FAST_OUT_SLOW_IN(t_ms / 450)
        x, y = origin or (w // 2, h // 2)
        icon = 28 * dp
        box = (round(x - icon + (0 - x + icon) * p), round(y - icon + (0 - y + icon) * p),
               round(x + icon + (w - x - icon) * p), round(y + icon + (h - y - icon) * p))
        return _inset(before, after, box, _phase(t_ms, 25, 50))
    if kind == "app_close":            # the window slides down a little and fades out over home
        p = FAST_OUT_SLOW_IN(t_ms / 250)
        return _over(after, _shift(before, 0, round(slide * p)), 1.0 - p)
    if kind == "shade_open":           # the panel comes down from the top edge
        reveal = round(h * FAST_OUT_SLOW_IN(t_ms / 600))
        out = before.copy()
        if reveal:
            out.paste(after.crop((0, h - reveal, w, h)), (0, 0))
        return out
    if kind == "shade_close":
        left = round(h * (1 - FAST_OUT_SLOW_IN(t_ms / 600)))
        out = after.copy()
        if left:
            out.paste(before.crop((0, h - left, w, h)), (0, 0))
        return out
    if kind == "dialog_open":          # alpha 0→1 (the 20dp rise is not drawn: the dim moves with it here)
        return _over(before, after, STANDARD(t_ms / 220))
    if kind == "dialog_close":
        return _over(before, after, STANDARD_ACCELERATE(t_ms / 150))
    return _over(before, after, FAST_OUT_SLOW_IN(t_ms / SPECS[kind].ms))   # recents: a crossfade


def _inset(base: Image.Image, top: Image.Image, box: tuple[int, int, int, int], alpha: float) -> Image.Image:
    l, t, r, b = box
    if r - l < 2 or b - t < 2 or alpha <= 0.0:
        return base
    out = base.copy()
    small = top.resize((r - l, b - t), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out.paste(_over(base.crop(box), small, alpha), (l, t))
    return out


# -- the timeline -------------------------------------------------------------------------------

@dataclass
class _Running:
    kind: str
    start: float
    scale: float
    before: Callable[[], Image.Image]    # rendered on first use: most transitions are never captured
    origin: tuple[int, int] | None

    @property
    def end(self) -> float:
        return self.start + SPECS[self.kind].ms * self.scale / 1000


class Animator:
    """The running window transition and fling of one phone (its lock is the phone's)."""

    def __init__(self, mode: str = "off"):
        if mode not in MODES:
            raise ValueError(f"animations must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self._window: _Running | None = None
        self._scroll: tuple[float, Scroll] | None = None

    @property
    def on(self) -> bool:
        return self.mode == "real"

    def clear(self) -> None:
        self._window = self._scroll = None

    def begin(self, kind: str, scale: float, before: Callable[[], Image.Image],
              origin: tuple[int, int] | None = None) -> None:
        self._scroll = None       # the list's offset is already the settled one in the state
        if scale <= 0:
            self._window = None
            return
        memo: list[Image.Image] = []

        def first_use() -> Image.Image:
            if not memo:
                memo.append(before())
            return memo[0]
        self._window = _Running(kind, time.monotonic(), scale, first_use, origin)

    def begin_scroll(self, scroll: Scroll) -> None:
        self._scroll = (time.monotonic(), scroll) if scroll.duration > 0 else None

    def stop_fling(self) -> bool:
        """A touch on a moving list stops it where it is (and is used up doing so, as
        RecyclerView intercepts it); True if a fling was running. Never short of where the last
        swipe's finger lifted: on a phone `input swipe` returns only then, so no later touch can
        come during the drag, though SimPhone's returns at once and draws the drag afterwards."""
        if self._scroll is None:
            return False
        start, s = self._scroll
        self._scroll = None
        t = time.monotonic() - start
        if t >= s.duration:
            return False
        s.store[s.key] = s.offset(max(t, s.drag_s))
        return True

    def busy_until(self) -> float:
        """When the last running transition ends (monotonic seconds; in the past when idle)."""
        ends = [0.0]
        if self._window is not None:
            ends.append(self._window.end)
        if self._scroll is not None:
            ends.append(self._scroll[0] + self._scroll[1].duration)
        return max(ends)

    def wait_idle(self, limit: float = 10.0) -> None:
        """Block (without the phone's lock) until no transition runs, at most `limit` s."""
        deadline = time.monotonic() + limit
        while (now := time.monotonic()) < deadline and (end := self.busy_until()) > now:
            time.sleep(min(end, deadline) - now)

    def frame(self, final: Callable[[], Image.Image], scrolled: Callable[[Scroll, int], Image.Image],
              dp: float) -> Image.Image | None:
        """The frame on screen now, or None when nothing moves (the caller shows `final`)."""
        now = time.monotonic()
        if self._scroll is not None:
            start, s = self._scroll
            if now - start >= s.duration:
                self._scroll = None
            else:
                return scrolled(s, s.offset(now - start))
        w = self._window
        if w is None:
            return None
        if now >= w.end:
            self._window = None
            return None
        t_ms = (now - w.start) * 1000 / w.scale
        return compose(w.kind, t_ms, w.before(), final(), dp, w.origin)
