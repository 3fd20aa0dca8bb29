"""Input routing for the SimPhone: taps, long presses, swipes, keys and text.

Touches go to the topmost window under the finger (windows are opaque to touch; a dialog takes
every touch), then to the deepest view there that handles them. Swipes first check the system
gestures (status bar pull-down, bottom-edge home, side-edge back), then drag a slider, scroll the
innermost list that can move, or let a screen's own swipe handler act (the launcher's drawer).
"""

from __future__ import annotations

from typing import Any

from .keys import APP_KEYS, CHARS, key_name
from .lock import locked
from .ui import Scroll, View, hit_path

# The input methods a SimPhone has: Android's keyboard and ADBKeyboard (typing by broadcast).
LATIN_IME = "com.android.inputmethod.latin/.LatinIME"
ADB_IME = "com.android.adbkeyboard/.AdbIME"


class Input:
    """A Phone's part: everything that turns a touch or a key into a state change."""

    def __init__(self, phone: Any):
        self.phone = phone
        self._lock = phone._lock

    def reset(self) -> None:
        self.touch: tuple[int, int] | None = None   # the tap being handled: an app launch grows from it
        self.reset_keyboard()

    def reset_keyboard(self) -> None:
        self.kbd = {"shift": False, "symbols": False}

    def _on_screen(self, x: float, y: float) -> bool:
        w, h = self.phone.screen.dims()
        return 0 <= x < w and 0 <= y < h

    def _path(self, x: int, y: int) -> list[View]:
        """Views under the point in the topmost window that takes it (windows are opaque to touch)."""
        for win in reversed(self.phone.screen.windows()):
            path = hit_path(win, x, y)
            if path:
                return path
        return []

    @locked
    def tap(self, x: int, y: int) -> None:
        x, y = int(x), int(y)
        if not self.phone.screen_on or not self._on_screen(x, y) or self.phone.transitions.touch_stops_fling():
            return
        self.touch = (x, y)   # an app this tap opens from the launcher grows out of it (transitions.py)
        try:
            for v in reversed(self._path(x, y)):
                if not v.enabled:
                    break    # a disabled control swallows the touch
                if v.on_drag is not None:
                    v.on_drag(x, y)
                    break
                if v.on_tap is not None:
                    v.on_tap()
                    break
            self.phone.changed()
        finally:
            self.touch = None

    @locked
    def long_press(self, x: int, y: int, duration_ms: int = 1000) -> None:
        x, y = int(x), int(y)
        if not self.phone.screen_on or not self._on_screen(x, y) or self.phone.transitions.touch_stops_fling():
            return
        for v in reversed(self._path(x, y)):
            if not v.enabled:
                break
            if v.on_long is not None:
                v.on_long()
                break
            if v.field is not None or v.on_drag is not None:   # fields focus, sliders jump
                v.on_drag(x, y) if v.on_drag is not None else v.on_tap()
                break
        self.phone.changed()

    @locked
    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int = 300) -> None:
        x1, y1, x2, y2 = int(x1), int(y1), int(x2), int(y2)
        if not self.phone.screen_on or not self._on_screen(x1, y1):
            return
        slop = self.phone.screen.frame().dp(8)
        if abs(x2 - x1) <= slop and abs(y2 - y1) <= slop:
            if duration_ms >= 500:
                self.long_press(x1, y1, duration_ms)
            else:
                self.tap(x1, y1)
            return
        self.phone.transitions.touch_stops_fling()   # the finger catches a moving list, then drags it
        self._gesture(x1, y1, x2, y2, duration_ms)
        self.phone.changed()

    @locked
    def drag_and_drop(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int = 300) -> None:
        # Nothing on SimPhone is rearrangeable: a drag moves sliders and scrolls lists like a swipe.
        x1, y1, x2, y2 = int(x1), int(y1), int(x2), int(y2)
        if not self.phone.screen_on or not self._on_screen(x1, y1):
            return
        slop = self.phone.screen.frame().dp(8)
        if abs(x2 - x1) <= slop and abs(y2 - y1) <= slop:
            self.long_press(x1, y1, duration_ms)   # a drag starts with a long press
            return
        self.phone.transitions.touch_stops_fling()
        self._gesture(x1, y1, x2, y2, duration_ms)
        self.phone.changed()

    def _gesture(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int = 300) -> None:
        f, tasks = self.phone.screen.frame(), self.phone.tasks
        dx, dy = x2 - x1, y2 - y1
        far = f.dp(40)
        if tasks.popup is not None:
            return
        if not tasks.shade and y1 < f.status_h and dy > far:
            tasks.shade = True          # pull down from the status bar
            return
        if tasks.shade and dy < -far and abs(dy) > abs(dx):
            tasks.shade = False
            return
        if not tasks.shade and y1 >= f.h - f.nav_h and dy < -far:
            tasks.go_home()             # gesture navigation: swipe up from the bottom edge
            return
        edge = f.dp(16)
        if not tasks.shade and (x1 < edge or x1 >= f.w - edge) and abs(dx) > far and abs(dx) > abs(dy):
            tasks.back()                # gesture navigation: swipe in from a side edge
            return
        for v in reversed(self._path(x1, y1)):
            if not v.enabled:
                return
            if v.on_drag is not None:
                v.on_drag(x2, y2)
                return
            if isinstance(v, Scroll) and abs(dy) >= abs(dx) and v.can_scroll(-dy):
                # the content follows the finger (and flings on: transitions.py)
                self.phone.transitions.scroll_list(v, -dy, duration_ms)
                return
            if v.on_swipe is not None and v.on_swipe(dx, dy):
                return

    def focused_field(self) -> View | None:
        tasks = self.phone.tasks
        if tasks.overview or tasks.shade or tasks.popup is not None:
            return None
        top = tasks.top()
        if top.focus is None:
            return None
        for v in self.phone.screen.windows()[0].walk():
            if v.field is not None and v.field.owner is top and v.field.key == top.focus:
                return v
        return None

    @locked
    def input_text(self, text: str) -> None:
        v = self.focused_field()
        if v is not None and text:
            v.field.owner.type_text(v.field.key, text)
            self.phone.changed()

    def _enter(self, v: View) -> None:
        info = v.field
        if info.multiline:
            info.owner.type_text(info.key, "\n")
        elif info.on_submit is not None:
            info.on_submit()
        else:
            self._focus_next(v)

    def _focus_next(self, v: View) -> None:
        owner = v.field.owner
        fields = [n for n in self.phone.screen.windows()[0].walk() if n.field is not None and n.field.owner is owner]
        i = fields.index(v) if v in fields else -1
        if 0 <= i < len(fields) - 1:
            nxt = fields[i + 1].field
            nxt.owner.request_focus(nxt.key, nxt.select_all)
        else:
            v.field.owner.clear_focus()    # last field: the IME's "done" hides the keyboard

    def ime_key(self, k: str) -> None:
        v = self.focused_field()
        if v is None:
            return
        if k == "⇧":
            self.kbd["shift"] = not self.kbd["shift"]
        elif k in "?A":
            self.kbd["symbols"] = k == "?"
        elif k == "⌫":
            v.field.owner.delete_char(v.field.key)
        elif k == "⏎":
            self._enter(v)
        else:
            ch = " " if k == "␣" else (k.upper() if self.kbd["shift"] else k)
            self.kbd["shift"] = False
            v.field.owner.type_text(v.field.key, ch)

    @locked
    def keyevent(self, key: str) -> bool:
        name = key_name(key)
        if name is None:
            return False
        if not self.phone.screen_on:
            if name in ("KEYCODE_POWER", "KEYCODE_WAKEUP"):
                self.phone.screen_on = True
                self.phone.changed()
            return True
        self._key(name)
        self.phone.changed()
        return True

    def _key(self, name: str) -> None:
        w, tasks = self.phone.world, self.phone.tasks
        if name in ("KEYCODE_BACK", "KEYCODE_ESCAPE"):
            tasks.back()
        elif name == "KEYCODE_HOME":
            tasks.go_home()
        elif name == "KEYCODE_APP_SWITCH":
            tasks.app_switch()
        elif name in ("KEYCODE_POWER", "KEYCODE_SLEEP", "KEYCODE_SOFT_SLEEP"):
            self.phone.screen_on = False
        elif name in ("KEYCODE_VOLUME_UP", "KEYCODE_VOLUME_DOWN"):
            w.volume = max(0, min(15, w.volume + (1 if name.endswith("UP") else -1)))
        elif name in ("KEYCODE_VOLUME_MUTE", "KEYCODE_MUTE"):
            w.volume = 0
        elif name in ("KEYCODE_BRIGHTNESS_UP", "KEYCODE_BRIGHTNESS_DOWN"):
            w.brightness = max(0, min(255, w.brightness + (16 if name.endswith("UP") else -16)))
        elif name == "KEYCODE_NOTIFICATION":
            tasks.shade = not tasks.shade
        elif name in APP_KEYS:
            self.phone.start(APP_KEYS[name])
        elif tasks.popup is None and not tasks.shade:
            self._edit_key(name)

    def _edit_key(self, name: str) -> None:
        v = self.focused_field()
        if v is None:
            if not self.phone.tasks.overview:
                self.phone.tasks.top().on_key(name)
            return
        owner, key = v.field.owner, v.field.key
        if name in ("KEYCODE_ENTER", "KEYCODE_NUMPAD_ENTER", "KEYCODE_DPAD_CENTER"):
            self._enter(v)
        elif name == "KEYCODE_DEL":
            owner.delete_char(key)
        elif name == "KEYCODE_FORWARD_DEL":
            if owner.select_all:   # the caret is always at the end: only a selection can go
                owner.delete_char(key)
        elif name == "KEYCODE_TAB":
            self._focus_next(v)     # as on Android, even in a multi-line field (input_text keeps tabs)
        elif name in CHARS:
            owner.type_text(key, CHARS[name])
