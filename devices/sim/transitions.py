"""Part of `Phone`: when a state change starts a transition, and what a capture shows meanwhile.

The timing and the drawing are animation.py's (window transitions) and fling.py's (lists); this
mixin ties them to the phone. Behaviour while something moves, as on Android:
- `screencap` / `framebuffer:` show the frame of that moment (animation.compose);
- `uiautomator dump` waits until nothing moves and dumps the settled tree, as uiautomator's
  DumpCommand waits for the UI to go idle first (it also waits for a second of accessibility
  quiet, which SimPhone leaves out);
- input goes to the new state at once: the new window takes touches as soon as it is added, and a
  key acts on it; a touch on a list still flinging stops the list where it is and does nothing else
  (RecyclerView catches the touch to stop the fling);
- `cmd simphone state` reports the new state at once (it is a test hook, not the screen).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from . import ui
from .animation import SPECS, Animator, Scene, classify
from .fling import Scroll, plan


class TransitionsMixin:
    """Part of `Phone`: starts transitions on state changes and draws the frames in between."""

    _anim: Animator

    def _reset_transitions(self) -> None:
        self._anim.clear()
        self._touch: tuple[int, int] | None = None   # the tap being handled: an app launch grows from it
        self._shown = self._scene()
        self._after_change()

    def _scene(self) -> Scene:
        return Scene(tuple(id(a) for a in self._stack), self._overview, self._shade, self._popup is not None,
                     self._screen_on, self._rotation)

    def _start_transition(self) -> None:
        """Called by `_changed` before the version moves on, while the cache holds the old screen."""
        if not self._anim.on:
            return
        scene = self._scene()
        kind = classify(self._shown, scene, self._touch is not None)
        if scene.rotation != self._shown.rotation or not scene.awake:
            self._anim.clear()   # the frame changes size, or goes black: nothing in flight is drawn on
        self._shown = scene
        if kind is None:
            return
        old = self._cache if self._cache.get("key", (None,))[0] == self._version else None
        self._anim.begin(kind, self._animation_scale(SPECS[kind].scale), self._before_frame(old), self._touch)

    def _before_frame(self, old: dict[str, Any] | None):
        """A way to draw the screen as it was: mid-transition, the frame of this moment; else the
        old state's frame (its windows are built at every change while animations are on)."""
        moving = self._moving_frame()
        if moving is not None:
            return lambda: moving
        if old is None:                 # nothing shown yet since a reset: start from the new screen
            return lambda: self._final_frame()
        if old.get("image") is not None:
            return lambda: old["image"]
        return lambda: self._render(old["windows"], old["frame"])

    def _after_change(self) -> None:
        if self._anim.on:
            self._windows()   # built now (cheap), so the next change can still draw this screen

    def _animation_scale(self, setting: str) -> float:
        """A global animation scale as Settings holds it; the window manager clamps it to 0..20."""
        try:
            value = float(self.world.setting("global", setting) or 1.0)
        except ValueError:
            value = 1.0
        return max(0.0, min(20.0, value))

    def _render(self, wins: list[ui.View], frame: ui.Frame) -> Image.Image:
        img = Image.new("RGB", (frame.w, frame.h), frame.theme.bg)
        canvas = ui.Canvas(img)
        for win in wins:
            ui.render(win, canvas)
        return img

    def _final_frame(self) -> Image.Image:
        wins = self._windows()
        if self._cache.get("image") is None:
            self._cache["image"] = self._render(wins, self._cache["frame"])
        return self._cache["image"]

    def _moving_frame(self) -> Image.Image | None:
        """The frame mid-transition, or None when the screen is still."""
        if not self._anim.on:
            return None
        return self._anim.frame(self._final_frame, self._scrolled_frame, self._frame().dp(1))

    def _scrolled_frame(self, scroll: Scroll, offset: int) -> Image.Image:
        """The screen with one list at `offset` (its settled offset stays in the state)."""
        settled, cache = scroll.store.get(scroll.key), self._cache
        scroll.store[scroll.key] = offset
        self._cache = {}
        try:
            return self._render(self._windows(), self._cache["frame"])
        finally:
            scroll.store[scroll.key] = settled
            self._cache = cache

    def _scroll_list(self, view: ui.Scroll, delta: int, duration_ms: int) -> None:
        """A swipe on a list: the content follows the finger, then (animations on) flings on."""
        if not self._anim.on:
            view.scroll_by(delta)
            return
        movement = plan(view.store, view.key, view.offset, view.max_offset, delta, duration_ms, self._density)
        view.store[view.key] = movement.end
        self._anim.begin_scroll(movement)

    def _touch_stops_fling(self) -> bool:
        """True when a touch went to stopping a fling (and so does nothing else)."""
        if self._anim.on and self._anim.stop_fling():
            self._changed()
            return True
        return False
