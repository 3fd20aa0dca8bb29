"""Exact text entry on X11 through XTest: each character arrives as itself, whatever the keymap.

pyautogui assumes a US layout's shift table (on many keymaps `<` comes out as `>`), and xdotool
binds each character to a scratch keycode just before pressing it and unbinds it after: a
client that looks the key up late (X clients refresh their keymap lazily) reads a later binding,
and an uppercase letter bound alone is read as its lowercase (X's rule for a single alphabetic
keysym). Here:

- a character the keymap already has is pressed on its own key, with Shift when it sits on the
  shifted level (so `<` is the `less` key, wherever the keymap put it);
- any other character is bound to a spare keycode on both levels (no case folding) before the
  text is typed, with a pause for clients to take the new binding in (they read it from an event
  they handle in their own time), and stays bound: nothing is rebound while the app may still be
  reading. Bindings are reused across calls (least recently used rebound first) and given back
  on `close()`;
- a text needing more new characters than there are spare keycodes is left to the caller
  (`TooManyCharacters`), which pastes it instead of racing the app.

Caps Lock is switched off while typing and back on after, so letters keep their case.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

BIND_SETTLE = 0.15  # seconds between binding keysyms and pressing their keys


class TooManyCharacters(Exception):
    """More distinct characters outside the keymap than spare keycodes to bind them to."""


def keysym_of(char: str) -> int:
    """The X keysym for one character: Latin-1 keysyms equal their code points, others are
    0x01000000 + the code point (X's Unicode keysyms)."""
    code = ord(char)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 + code


class X11Typist:
    """Types text into the focused window of an X display; `display` as for Xlib (":0")."""

    def __init__(self, display: str | None) -> None:
        from Xlib import X, XK
        from Xlib import display as xdisplay
        from Xlib.ext import xtest

        self._X, self._xtest = X, xtest
        self._d = xdisplay.Display(display)
        info = self._d.display.info
        self._low, self._count = info.min_keycode, info.max_keycode - info.min_keycode + 1
        self._shift = self._d.keysym_to_keycode(XK.XK_Shift_L)
        self._caps = self._d.keysym_to_keycode(XK.XK_Caps_Lock)
        self._bound: OrderedDict[int, int] = OrderedDict()  # keysym -> spare keycode we bound it to

    def close(self) -> None:
        """Give back the keycodes we bound, and the connection."""
        try:
            for keycode in self._bound.values():
                self._d.change_keyboard_mapping(keycode, [(0, 0)])
            self._d.sync()
        finally:
            self._bound.clear()
            self._d.close()

    def type(self, text: str) -> None:
        """Press and release a key for each character of `text` (no newlines or tabs: those are
        the caller's Enter and Tab presses). TooManyCharacters when it cannot be done exactly."""
        keymap = self._d.get_keyboard_mapping(self._low, self._count)
        where = {}  # keysym -> (keycode, shifted), from the keymap as it is now
        for offset, syms in enumerate(keymap):
            for level in (1, 0):  # level 0 wins: a key that has it unshifted needs no Shift
                if len(syms) > level and syms[level]:
                    where[syms[level]] = (self._low + offset, level == 1)
        for keysym, keycode in self._bound.items():
            where[keysym] = (keycode, False)
        needed = list(dict.fromkeys(k for k in map(keysym_of, text) if k not in where))
        if needed:
            self._bind(needed, keymap)
            where.update({k: (self._bound[k], False) for k in needed})
        caps = self._caps_lock_on()
        if caps:
            self._tap(self._caps)
        try:
            for keysym in map(keysym_of, text):
                keycode, shifted = where[keysym]
                if keysym in self._bound:
                    self._bound.move_to_end(keysym)  # recently used: the last to be rebound
                if shifted:
                    self._xtest.fake_input(self._d, self._X.KeyPress, self._shift)
                self._tap(keycode)
                if shifted:
                    self._xtest.fake_input(self._d, self._X.KeyRelease, self._shift)
        finally:
            if caps:
                self._tap(self._caps)
            self._d.sync()

    def _bind(self, keysyms: list[int], keymap: list[Any]) -> None:
        """Bind each keysym to a spare keycode (ours, least recently used first, or unbound)."""
        free = [self._low + i for i, syms in enumerate(keymap) if not any(syms)]
        reusable = list(self._bound.items())  # oldest first
        if len(keysyms) > len(free) + len(reusable):
            raise TooManyCharacters(f"{len(keysyms)} characters outside the keymap, "
                                    f"{len(free) + len(reusable)} spare keycodes")
        for keysym in keysyms:
            if free:
                keycode = free.pop(0)
            else:
                old, keycode = reusable.pop(0)
                del self._bound[old]
            # both levels: a lone alphabetic keysym would be read as lowercase without Shift
            self._d.change_keyboard_mapping(keycode, [(keysym, keysym)])
            self._bound[keysym] = keycode
        self._d.sync()
        # Clients learn of a new binding from an event they handle in their own time (Tk, GTK:
        # through XKB); a key pressed before that is read with the old binding or none.
        time.sleep(BIND_SETTLE)

    def _tap(self, keycode: int) -> None:
        self._xtest.fake_input(self._d, self._X.KeyPress, keycode)
        self._xtest.fake_input(self._d, self._X.KeyRelease, keycode)

    def _caps_lock_on(self) -> bool:
        pointer = self._d.screen().root.query_pointer()
        return bool(pointer.mask & self._X.LockMask)
