"""Key names to Android KEYCODE_* names, for Key and SystemButton actions.

A model writes keys the way people name them ("enter", "volume_up", "ctrl", "a", "F5"); adb
wants `input keyevent KEYCODE_ENTER`. Unknown names are refused with the closest known ones,
so the model can correct itself.
"""

from __future__ import annotations

import difflib
import re

from ..errors import ToolArgumentsError

SYSTEM_BUTTONS = {
    "back": "KEYCODE_BACK", "home": "KEYCODE_HOME", "menu": "KEYCODE_MENU",
    "enter": "KEYCODE_ENTER", "app_switch": "KEYCODE_APP_SWITCH",
}
_KEY_ALIASES = {
    "enter": "ENTER", "return": "ENTER", "back": "BACK", "home": "HOME", "menu": "MENU",
    "del": "DEL", "backspace": "DEL", "delete": "FORWARD_DEL", "forward_del": "FORWARD_DEL",
    "tab": "TAB", "space": "SPACE", " ": "SPACE", "esc": "ESCAPE", "escape": "ESCAPE",
    "up": "DPAD_UP", "down": "DPAD_DOWN", "left": "DPAD_LEFT", "right": "DPAD_RIGHT",
    "center": "DPAD_CENTER", "volume_up": "VOLUME_UP", "volumeup": "VOLUME_UP",
    "volume_down": "VOLUME_DOWN", "volumedown": "VOLUME_DOWN", "volume_mute": "VOLUME_MUTE",
    "volumemute": "VOLUME_MUTE", "mute": "VOLUME_MUTE", "power": "POWER", "camera": "CAMERA",
    "search": "SEARCH", "app_switch": "APP_SWITCH", "recent": "APP_SWITCH", "recents": "APP_SWITCH",
    "pageup": "PAGE_UP", "page_up": "PAGE_UP", "pagedown": "PAGE_DOWN", "page_down": "PAGE_DOWN",
    "ctrl": "CTRL_LEFT", "control": "CTRL_LEFT", "ctrlleft": "CTRL_LEFT", "ctrlright": "CTRL_RIGHT",
    "shift": "SHIFT_LEFT", "shiftleft": "SHIFT_LEFT", "shiftright": "SHIFT_RIGHT",
    "alt": "ALT_LEFT", "altleft": "ALT_LEFT", "altright": "ALT_RIGHT", "win": "META_LEFT",
    "meta": "META_LEFT", "cmd": "META_LEFT", "command": "META_LEFT", "capslock": "CAPS_LOCK",
    "insert": "INSERT", "end": "MOVE_END", "wakeup": "WAKEUP", "sleep": "SLEEP",
    "notification": "NOTIFICATION", "playpause": "MEDIA_PLAY_PAUSE", "stop": "MEDIA_STOP",
    "nexttrack": "MEDIA_NEXT", "prevtrack": "MEDIA_PREVIOUS",
    ",": "COMMA", ".": "PERIOD", "-": "MINUS", "=": "EQUALS", "/": "SLASH", ";": "SEMICOLON",
    "'": "APOSTROPHE", "[": "LEFT_BRACKET", "]": "RIGHT_BRACKET", "\\": "BACKSLASH", "`": "GRAVE",
    "@": "AT", "+": "PLUS", "*": "STAR", "#": "POUND",
}


def keycode(name: str) -> str:
    """An Android KEYCODE_* name for a key name ("enter", "volume_up", "a", "F5", "KEYCODE_HOME")."""
    raw = name.strip()
    key = raw.lower()
    if key.startswith("keycode_") and re.fullmatch(r"[a-z0-9_]+", key):
        return key.upper()
    if key in _KEY_ALIASES:
        return "KEYCODE_" + _KEY_ALIASES[key]
    if re.fullmatch(r"[a-z0-9]", key):
        return "KEYCODE_" + key.upper()
    if re.fullmatch(r"f([1-9]|1[0-2])", key):
        return "KEYCODE_" + key.upper()
    if re.fullmatch(r"[a-z][a-z0-9_]*", key) and key.upper() in _KNOWN_KEYS:
        return "KEYCODE_" + key.upper()
    close = difflib.get_close_matches(key, list(_KEY_ALIASES) + [k.lower() for k in _KNOWN_KEYS], n=4)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ToolArgumentsError(f"unknown key {name!r}{hint} (keys are names such as enter, back, home, del, tab, volume_up, a, 5)")


_KNOWN_KEYS = frozenset(_KEY_ALIASES.values()) | {
    "DPAD_CENTER", "MOVE_HOME", "BRIGHTNESS_UP", "BRIGHTNESS_DOWN", "ZOOM_IN", "ZOOM_OUT",
    "CALL", "ENDCALL", "HEADSETHOOK", "FOCUS", "NUMPAD_ENTER", "ASSIST", "VOICE_ASSIST",
    "ALL_APPS", "SCREENSHOT", "CUT", "COPY", "PASTE",
}
