"""A Phone's part: when a state change starts a transition, and what a capture shows meanwhile.

The timing and the drawing are animation.py's (window transitions) and fling.py's (lists); this
part ties them to the phone. Behaviour while something moves, as on Android:
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


class Transitions:
    """A Phone's part: starts transitions on state changes and draws the frames in between."""

    def __init__(self, phone: Any, animations: str):
        self.phone = phone
        self.anim = Animator(animations)

    def reset(self) -> None:
        self.anim.clear()
        self.shown = self.scene()
        self.after_change()

    def scene(self) -> Scene:
        tasks = self.phone.tasks
        return Scene(tuple(id(a) for a in tasks.stack), tasks.overview, tasks.shade, tasks.popup is not None,
                     self.phone.screen_on, self.phone.rotation)

    def start(self) -> None:
        """Called by `Phone.changed` before the version moves on, while the cache holds the old screen."""
        if not self.anim.on:
            return
        scene = self.scene()
        touch = self.phone.input.touch
        kind = classify(self.shown, scene, touch is not None)
        if scene.rotation != self.shown.rotation or not scene.awake:
            self.anim.clear()   # the frame changes size, or goes black: nothing in flight is drawn on
        self.shown = scene
        if kind is None:
            return
        screen = self.phone.screen
        old = screen.cache if screen.cache.get("key", (None,))[0] == screen.version else None
        self.anim.begin(kind, self._animation_scale(SPECS[kind].scale), self._before_frame(old), touch)

    def _before_frame(self, old: dict[str, Any] | None):
        """A way to draw the screen as it was: mid-transition, the frame of this moment; else the
        old state's frame (its windows are built at every change while animations are on)."""
        moving = self.moving_frame()
        if moving is not None:
            return lambda: moving
        screen = self.phone.screen
        if old is None:                 # nothing shown yet since a reset: start from the new screen
            return lambda: screen.final_frame()
        if old.get("image") is not None:
            return lambda: old["image"]
        return lambda: screen.render(old["windows"], old["frame"])

    def after_change(self) -> None:
        if self.anim.on:
            self.phone.screen.windows()   # built now (cheap), so the next change can still draw this screen

    def _animation_scale(self, setting: str) -> float:
        """A global animation scale as Settings holds it; the window manager clamps it to 0..20."""
        try:
            value = float(self.phone.world.setting("global", setting) or 1.0)
        except ValueError:
            value = 1.0
        return max(0.0, min(20.0, value))

    def moving_frame(self) -> Image.Image | None:
        """The frame mid-transition, or None when the screen is still."""
        if not self.anim.on:
            return None
        screen = self.phone.screen
        return self.anim.frame(screen.final_frame, self._scrolled_frame, screen.frame().dp(1))

    def _scrolled_frame(self, scroll: Scroll, offset: int) -> Image.Image:
        """The screen with one list at `offset` (its settled offset stays in the state)."""
        screen = self.phone.screen
        settled, cache = scroll.store.get(scroll.key), screen.cache
        scroll.store[scroll.key] = offset
        screen.cache = {}
        try:
            return screen.render(screen.windows(), screen.cache["frame"])
        finally:
            scroll.store[scroll.key] = settled
            screen.cache = cache

    def scroll_list(self, view: ui.Scroll, delta: int, duration_ms: int) -> None:
        """A swipe on a list: the content follows the finger, then (animations on) flings on."""
        if not self.anim.on:
            view.scroll_by(delta)
            return
        movement = plan(view.store, view.key, view.offset, view.max_offset, delta, duration_ms, self.phone.density)
        view.store[view.key] = movement.end
        self.anim.begin_scroll(movement)

    def touch_stops_fling(self) -> bool:
        """True when a touch went to stopping a fling (and so does nothing else)."""
        if self.anim.on and self.anim.stop_fling():
            self.phone.changed()
            return True
        return False
