"""DesktopDevice: the local desktop, seen with mss and driven with pyautogui.

Two coordinate spaces meet here. Screenshots are in *pixels*; the pointer moves in *pointer
units*, which on macOS Retina are points (half the pixels) and on X11 are the same pixels.
`size` is the chosen monitor in pointer units and `execute` takes points relative to that
monitor; the loop maps screenshot pixels to `size`, so this class never rescales coordinates.

pyautogui connects to the display when it is imported, so it is imported in `connect()`, and
one process can drive one X display. `connect()` runs on first use if nobody called it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from ..actions import (
    AskUser, Click, Drag, Key, LongPress, MouseMove, OpenApp, Scroll, Swipe, SystemButton, Tap,
    Terminate, TypeText, Wait, points_of,
)
from ..errors import (
    ActionOutOfBounds, DeviceCommandError, DeviceOffline, ToolArgumentsError, UserAbort, UserError,
    VLAgentError,
)

FAILSAFE_MESSAGE = "pyautogui fail-safe: the pointer reached a screen corner; run stopped"
_MAC = sys.platform == "darwin"
_SUPER = "command" if _MAC else "win"
_KEY_ALIASES = {
    "control": "ctrl", "ctl": "ctrl", "controll": "ctrlleft", "controlr": "ctrlright",
    "return": "enter", "kpenter": "enter", "escape": "esc", "del": "delete", "ins": "insert",
    "cmd": _SUPER, "command": _SUPER, "super": _SUPER, "superl": _SUPER, "meta": _SUPER,
    "win": _SUPER, "windows": _SUPER, "os": _SUPER, "option": "option" if _MAC else "alt",
    "opt": "option" if _MAC else "alt", "altl": "altleft", "altr": "altright", "altgr": "altright",
    "arrowup": "up", "arrowdown": "down", "arrowleft": "left", "arrowright": "right",
    "pgup": "pageup", "prior": "pageup", "pgdn": "pagedown", "next": "pagedown",
    "spacebar": "space", "plus": "+", "minus": "-", "menu": "apps", "print": "printscreen",
    "prtsc": "printscreen", "bksp": "backspace", "shiftl": "shiftleft", "shiftr": "shiftright",
}
# SystemButton on a desktop: only the ones with an unsurprising meaning everywhere.
_SYSTEM_KEYS = {"enter": ("enter",), "back": ("command", "[") if _MAC else ("alt", "left")}


class DesktopDevice:
    """One monitor of the local desktop. `monitor`: mss numbering, 1..n (0 = all of them).

        with DesktopDevice() as desktop:
            Agent(model, desktop).run("open the settings")

    draw_cursor: paint an arrow where the pointer is (screen grabbers leave it out).
    scale: screenshot pixels per pointer unit; detected when None (1 on X11, 2 on Retina).
    display: the X display (":0"); $DISPLAY when None. X11 or XWayland: pyautogui has no
    Wayland backend. Throwing the pointer into a screen corner stops the run (UserAbort).
    """

    kind = "desktop"

    def __init__(self, monitor: int = 1, *, draw_cursor: bool = False, scale: float | None = None,
                 display: str | None = None) -> None:
        if scale is not None and scale <= 0:
            raise UserError(f"scale must be positive, got {scale}")
        self.monitor = monitor
        self.draw_cursor = draw_cursor
        self.display = display
        self._scale_arg = scale
        self._pg: Any = None  # the pyautogui module, once connected
        self._typist: Any = None  # X11Typist, made on the first text typed on X11
        self._region: dict[str, int] = {}
        self._scale = 1.0
        self._size: tuple[int, int] | None = None
        # mss grabbers hold per-thread handles (X connection, GDI context): one per thread.
        self._local = threading.local()
        self._grabbers: list[Any] = []
        self._lock = threading.RLock()

    @property
    def description(self) -> str:
        size = f", {self._size[0]}x{self._size[1]} scale {self._scale:g}" if self._size else ""
        return f"desktop (monitor {self.monitor}{' of ' + self.display if self.display else ''}{size})"

    @property
    def size(self) -> tuple[int, int]:
        self.connect()
        return self._size  # type: ignore[return-value]

    @property
    def scale(self) -> float:
        """Screenshot pixels per pointer unit."""
        self.connect()
        return self._scale

    # -- lifecycle ----------------------------------------------------------------------------

    def connect(self) -> "DesktopDevice":
        with self._lock:
            if self._pg is not None:
                return self
            pg = _import_pyautogui(self.display)
            monitors = self._grabber().monitors
            if not 0 <= self.monitor < len(monitors):
                listing = "; ".join(f"{i}: {m['width']}x{m['height']} at ({m['left']}, {m['top']})"
                                    for i, m in enumerate(monitors))
                self.close()
                raise UserError(f"there is no monitor {self.monitor}; this display has {listing} "
                                "(0 is all monitors together)")
            self._region = {k: monitors[self.monitor][k] for k in ("left", "top", "width", "height")}
            shot = self._grab()
            self._scale = self._scale_arg or shot.width / self._region["width"]
            self._size = (round(shot.width / self._scale), round(shot.height / self._scale))
            # pyautogui sleeps PAUSE (0.1 s) after every call, which is pure waste for an agent
            # that captures and settles after acting. FAILSAFE stays on: a pointer thrown into a
            # screen corner is how a person stops a runaway agent.
            pg.PAUSE = 0.0
            pg.FAILSAFE = True
            self._pg = pg
        return self

    def close(self) -> None:
        with self._lock:
            for sct in self._grabbers:
                sct.close()
            self._grabbers.clear()
            self._local = threading.local()
            self._pg = None
            if self._typist is not None:
                self._typist.close()
                self._typist = None

    def __enter__(self) -> "DesktopDevice":
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- seeing -------------------------------------------------------------------------------

    def _grabber(self) -> Any:
        sct = getattr(self._local, "sct", None)
        if sct is None:
            import mss

            kwargs = {"display": self.display} if self.display else {}
            try:
                sct = (getattr(mss, "MSS", None) or mss.mss)(**kwargs)  # MSS since mss 10.2
            except Exception as e:  # noqa: BLE001 - mss raises ScreenShotError or ctypes errors
                raise UserError(f"cannot open the display {self.display or os.environ.get('DISPLAY')!r} "
                                f"for screenshots: {e}") from None
            with self._lock:
                self._grabbers.append(sct)
            self._local.sct = sct
        return sct

    def _grab(self) -> Image.Image:
        """One frame of the monitor in screenshot pixels, without the cursor."""
        try:
            shot = self._grabber().grab(self._region)
        except Exception as e:  # noqa: BLE001
            raise DeviceCommandError(f"screenshot failed: {type(e).__name__}: {e}") from None
        # BGRA straight into RGB: one decoding pass, no intermediate bytes copy (unlike .rgb).
        return Image.frombuffer("RGB", shot.size, shot.raw, "raw", "BGRX", 0, 1)

    def screenshot(self) -> Image.Image:
        self.connect()
        image = self._grab()
        if self.draw_cursor:
            x, y = self._pg.position()
            _draw_arrow(image, (x - self._region["left"]) * self._scale,
                        (y - self._region["top"]) * self._scale, self._scale)
        return image

    def record(self, seconds: float, path: "str | Path | None" = None, *, fps: float = 2.0) -> Path:
        """Record the monitor for `seconds` at `fps` frames a second (mss, without the cursor
        unless draw_cursor); the MP4's Path (a new temporary file unless `path`)."""
        from .recording import record_frames

        self.connect()
        return record_frames(self.screenshot, seconds, fps, path)

    # -- acting -------------------------------------------------------------------------------

    def execute(self, action: Any) -> None:
        if isinstance(action, (Wait, Terminate, AskUser)):
            raise ValueError(f"{action.type} is handled by the agent loop, not sent to a device")
        self.connect()
        w, h = self._size  # type: ignore[misc]
        for x, y in points_of(action):
            if not (0 <= x < w and 0 <= y < h):
                raise ActionOutOfBounds(
                    f"point ({x}, {y}) is off the screen, which spans 0-{w - 1} x 0-{h - 1}; "
                    "give a point on a visible element.")
        with self._lock:
            try:
                # Checked here too, so actions that bypass pyautogui (XTest typing) stop as well.
                self._pg.failSafeCheck()
                self._act(action)
            except VLAgentError:
                raise
            except self._pg.FailSafeException:
                raise UserAbort(FAILSAFE_MESSAGE) from None
            except Exception as e:  # noqa: BLE001
                if type(e).__name__ in ("ConnectionClosedError", "DisplayConnectionError"):
                    raise DeviceOffline(f"the display went away: {e}") from None
                raise DeviceCommandError(f"{type(action).__name__} failed: {type(e).__name__}: {e}") from None

    def _act(self, action: Any) -> None:
        pg, at = self._pg, self._global
        match action:
            case MouseMove(x=x, y=y):
                pg.moveTo(*at(x, y))
            case Click(x=x, y=y, button=button, clicks=clicks):
                where = at(x, y) if x is not None and y is not None else (None, None)
                pg.click(*where, clicks=clicks, interval=0.0, button=button)
            case Tap(x=x, y=y):
                pg.click(*at(x, y))
            case LongPress(x=x, y=y, duration_ms=ms):
                self._drag((x, y), (x, y), ms)  # a press held in place
            case Drag(x=x, y=y, start=start, duration_ms=ms):
                self._drag(start, (x, y), ms)
            case Swipe(x1=x1, y1=y1, x2=x2, y2=y2, duration_ms=ms):
                self._drag((x1, y1), (x2, y2), ms)
            case Scroll(amount=amount, x=x, y=y):
                where = at(x, y) if x is not None and y is not None else (None, None)
                pg.scroll(amount, *where)
            case Key(keys=keys):
                names = _key_names(keys, pg.KEYBOARD_KEYS)
                if len(names) > 1:
                    pg.hotkey(*names)
                else:
                    pg.press(names[0])
            case TypeText(text=text):
                self._type(text)
            case SystemButton(button=button) if button in _SYSTEM_KEYS:
                pg.hotkey(*_SYSTEM_KEYS[button])
            case SystemButton(button=button):
                raise ToolArgumentsError(
                    f"a desktop has no {button} button; use `key` (e.g. [\"alt\", \"tab\"]) or click instead.")
            case OpenApp():
                raise ToolArgumentsError("open_app is not supported on desktop; open the app by "
                                         "clicking its icon or menu entry.")
            case _:
                raise ValueError(f"DesktopDevice cannot execute {action!r}")

    def _global(self, x: int, y: int) -> tuple[int, int]:
        """A monitor-relative point in the global pointer space that pyautogui uses."""
        return self._region["left"] + x, self._region["top"] + y

    def _drag(self, start: tuple[int, int] | None, end: tuple[int, int], ms: int) -> None:
        pg = self._pg
        if start is not None:
            pg.moveTo(*self._global(*start))
        pg.mouseDown(button="left")
        try:
            if start == end:
                time.sleep(ms / 1000)
            else:
                pg.moveTo(*self._global(*end), duration=ms / 1000)
        finally:
            # Never leave the button held, even with the pointer in a fail-safe corner (where
            # mouseUp would refuse): the next action trips the fail-safe anyway.
            pg.FAILSAFE = False
            try:
                pg.mouseUp(button="left")
            finally:
                pg.FAILSAFE = True

    def _type(self, text: str) -> None:
        # Newlines and tabs are Enter and Tab presses, as a person types them, whatever types the
        # rest (a pasted newline lands inside one-line fields).
        for piece in re.split(r"([\n\t])", text.replace("\r\n", "\n")):
            if piece in ("\n", "\t"):
                self._pg.press("enter" if piece == "\n" else "tab")
            elif piece and not (_MAC or sys.platform == "win32"):
                self._type_x11(piece)
            elif piece.isascii():
                self._pg.write(piece)
            elif piece:
                self._paste(piece)

    def _type_x11(self, text: str) -> None:
        """Exact on any keymap (see x11_typing); a text with too many characters outside the
        keymap to bind them all at once is pasted instead."""
        from .x11_typing import TooManyCharacters, X11Typist

        if self._typist is None:
            self._typist = X11Typist(self.display)
        try:
            self._typist.type(text)
        except TooManyCharacters:
            self._paste(text)

    def _paste(self, text: str) -> None:
        env = {**os.environ, "DISPLAY": self.display} if self.display else None
        _copy(text, env)
        self._pg.hotkey("command" if _MAC else "ctrl", "v")
        time.sleep(0.05)  # let the app fetch the clipboard before anything replaces it


def _import_pyautogui(display: str | None) -> Any:
    want = display or os.environ.get("DISPLAY")
    x11 = sys.modules.get("pyautogui._pyautogui_x11")
    bound = x11._display.get_display_name() if x11 else None
    if bound and want and re.sub(r"\.\d+$", "", bound) != re.sub(r"\.\d+$", "", want):  # :0.0 is :0
        raise UserError(f"pyautogui is already connected to display {bound} (it connects once, at "
                        f"import); one process drives one X display, not {want}")
    old = os.environ.get("DISPLAY")
    if display:
        os.environ["DISPLAY"] = display
    try:
        import pyautogui
    except Exception as e:  # noqa: BLE001 - Xlib raises its own error types, or KeyError('DISPLAY')
        raise UserError(f"pyautogui cannot reach the display {want!r} ({type(e).__name__}: {e}). Run "
                        "inside a graphical session or Xvfb; python-xlib also needs an Xauthority "
                        "file (touch ~/.Xauthority).") from None
    finally:
        if display and old is None:
            del os.environ["DISPLAY"]
        elif display:
            os.environ["DISPLAY"] = old
    return pyautogui


def _key_names(keys: tuple[str, ...], known: list[str]) -> list[str]:
    """Model key names ("Control", "Return", "cmd", "Page_Down") as pyautogui's, validated."""
    names = []
    for key in keys:
        for part in key.split("+") if len(key) > 1 and "+" in key.strip("+") else [key]:
            name = part if len(part) == 1 else re.sub(r"[\s_-]", "", part.lower())
            names.append("space" if name == " " else _KEY_ALIASES.get(name, name))
    if len(names) > 1:  # in a combination, "A" means the a key, not shift+a
        names = [n.lower() if len(n) == 1 else n for n in names]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ToolArgumentsError(f"unknown key name(s) {unknown}; use names like ctrl, alt, shift, "
                                 "enter, esc, tab, backspace, up, pagedown, f5, a, 1.")
    return names


def _copy(text: str, env: dict[str, str] | None) -> None:
    if _MAC or sys.platform == "win32":
        import pyperclip  # a pyautogui dependency; native clipboards need no extra program

        pyperclip.copy(text)
        return
    for cmd in (["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]):
        if shutil.which(cmd[0]):
            # Output to DEVNULL: xclip forks a child that keeps serving the selection, and a
            # captured pipe would wait for that child to exit.
            subprocess.run(cmd, input=text.encode(), env=env, check=True, timeout=10,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return
    raise UserError("pasting this text needs xclip or xsel for the clipboard: apt-get install xclip")


def _draw_arrow(image: Image.Image, x: float, y: float, scale: float) -> None:
    """A classic arrow pointer with its tip at (x, y), sized for the screen's scale."""
    if not (0 <= x < image.width and 0 <= y < image.height):
        return
    shape = [(0, 0), (0, 16), (4, 12), (7, 19), (10, 18), (7, 11), (12, 11)]
    ImageDraw.Draw(image).polygon([(x + dx * scale, y + dy * scale) for dx, dy in shape],
                                  fill=(255, 255, 255), outline=(0, 0, 0))
