"""SimPhone's Android commands for input and the system's state: input, screencap, wm, getprop,
svc. Their output is Android 14's wherever parsers (adbutils, scripts, AdbDevice) look, and their
failures are Android's too: `input text` with a character outside the virtual keyboard map fails
the way the real one does. The other command families register from their own modules, imported
at the bottom: dumpsys, settings, pm, ifconfig/ip, logcat, pkill/pidof.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

from ...phone.keys import KEYCODES
from ..command import CommandTable, ShellExit, UsageError
from .logcat import log

COMMANDS = CommandTable()

# The built-in display's physical id, as SurfaceFlinger prints it and `screencap -d` takes it: a
# local display on port 0 (the id's low byte), as a Pixel's is.
PHYSICAL_DISPLAY_ID = 4619827259835644672
DISPLAY_UNIQUE_ID = f"local:{PHYSICAL_DISPLAY_ID}"

# The virtual keyboard map `input text` uses: printable ASCII, tab and newline.
_KCM_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\t", "\n"}


# -- Android: input


def _keyname(key: str) -> str | None:
    codes = KEYCODES
    if key.isdigit():
        for name, code in codes.items():
            if code == int(key):
                return name
        return None
    name = key.upper()
    if not name.startswith("KEYCODE_"):
        name = "KEYCODE_" + name
    return name if name in codes else None


_SOURCES = {"keyboard", "mouse", "joystick", "touchnavigation", "touchpad", "trackball", "dpad",
            "stylus", "gamepad", "touchscreen", "rotaryencoder"}


def _num(s: str) -> int:
    return int(round(float(s)))


def _input_text(phone, text: str) -> str | None:
    """What `input text ARG` does: %s becomes a space, then every character goes through the
    virtual keyboard map as a key event. A character outside that map aborts the whole call."""
    buff = list(text)
    escape = False
    i = 0
    while i < len(buff):
        if escape:
            escape = False
            if buff[i] == "s":
                buff[i] = " "
                i -= 1
                del buff[i]
        if buff[i] == "%":
            escape = True
        i += 1
    chars = "".join(buff)
    if any(c not in _KCM_CHARS for c in chars):
        return ("Exception occurred while executing 'text':\njava.lang.NullPointerException: "
                "Attempt to get length of null array\n")
    run: list[str] = []
    for c in chars:
        if c in "\n\t":
            if run:
                phone.input_text("".join(run))
                run.clear()
            phone.keyevent("KEYCODE_ENTER" if c == "\n" else "KEYCODE_TAB")
        else:
            run.append(c)
    if run:
        phone.input_text("".join(run))
    return None


def _press(phone, keys: list[str], dry_run: bool = False) -> list[str]:
    """Key names or numbers to KEYCODE_* names, pressed in order unless `dry_run`."""
    names = [_keyname(k) for k in keys]
    if not names or None in names:
        bad = keys[names.index(None)] if None in names else ""
        raise UsageError(f"Error: Unknown keycode: {bad}")
    if not dry_run:
        for n in names:
            phone.keyevent(n)
    return names


_INPUT_USAGE = ("Usage: input [<source>] [-d DISPLAY_ID] <command> [<arg>...]\n\n"
                "The commands and default sources are:\n"
                "      text <string> (Default: keyboard)\n"
                "      keyevent [--longpress|--doubletap|--async|--delay <duration between keycodes in ms>] "
                "<key code number or name> ... (Default: keyboard)\n"
                "      tap <x> <y> (Default: touchscreen)\n"
                "      swipe <x1> <y1> <x2> <y2> [duration(ms)] (Default: touchscreen)\n"
                "      draganddrop <x1> <y1> <x2> <y2> [duration(ms)] (Default: touchscreen)\n"
                "      press (Default: trackball)\n"
                "      roll <dx> <dy> (Default: trackball)\n"
                "      keycombination [-t duration(ms)] <key code 1> <key code 2> ... (Default: keyboard)\n")


def _log_power(sh, was_awake: bool) -> None:
    """PowerManagerService's lines when a key slept or woke the screen (what logcat shows)."""
    awake = sh.phone.state()["screen_on"]
    if awake != was_awake:
        log(sh.state, "PowerManagerService", "Waking up from Asleep (uid=1000, reason=WAKE_REASON_POWER_BUTTON, "
            "details=android.policy:POWER)..." if awake else "Going to sleep due to power_button (uid 1000)...")


@COMMANDS.add("input")
def _input(sh, args, io_):
    phone = sh.phone
    if args and args[0] in _SOURCES:
        args = args[1:]
    if len(args) >= 2 and args[0] == "-d":
        args = args[2:]
    if not args:
        io_.err(_INPUT_USAGE)
        return 1
    cmd, rest = args[0], args[1:]
    try:
        if cmd == "text":
            if not rest:
                raise UsageError("Error: Argument expected after \"text\"")
            problem = _input_text(phone, rest[0])
            if problem:
                io_.err(problem)
                return 255
        elif cmd == "tap" and len(rest) == 2:
            phone.tap(_num(rest[0]), _num(rest[1]))
        elif cmd in ("swipe", "draganddrop") and len(rest) in (4, 5):
            x1, y1, x2, y2 = map(_num, rest[:4])
            ms = int(rest[4]) if len(rest) == 5 else 300
            (phone.swipe if cmd == "swipe" else phone.drag_and_drop)(x1, y1, x2, y2, ms)
        elif cmd == "keyevent" and rest:
            # --longpress/--doubletap/--async change timing only; --delay/--duration take a value
            keys, skip = [], False
            for a in rest:
                if skip:
                    skip = False
                elif a in ("--delay", "--duration"):
                    skip = True
                elif not a.startswith("--"):
                    keys.append(a)
            awake = phone.state()["screen_on"]
            _press(phone, keys)
            _log_power(sh, awake)
        elif cmd == "keycombination" and rest:
            keys = rest[2:] if rest[0] == "-t" else rest
            names = _press(phone, keys, dry_run=True)
            if any(re.search(r"CTRL|SHIFT|ALT|META|FUNCTION", n) for n in names):
                # SimPhone's apps know no shortcuts; pressing the bare keys would lie about it.
                raise UsageError("Error: SimPhone does not simulate key combinations with modifiers")
            _press(phone, names)
        elif cmd == "press":
            phone.keyevent("KEYCODE_DPAD_CENTER")
        elif cmd == "roll":
            pass
        elif cmd in ("tap", "swipe", "draganddrop", "keyevent", "keycombination"):
            raise UsageError(f"Error: Invalid arguments for command: {cmd}\n" + _INPUT_USAGE)
        else:
            raise UsageError(f"Error: Unknown command: {cmd}\n" + _INPUT_USAGE)
    except ValueError:
        raise UsageError(f"Exception occurred while executing '{cmd}':\njava.lang.NumberFormatException: "
                     f"For input string: \"{' '.join(rest)}\"", 255)
    if sh.state.count_input():
        raise ShellExit(129)  # the transport dropped before the reply: the session is gone
    return 0


# -- Android: screen


def _frame(sh) -> "Any":
    faults = sh.state.faults
    if faults.slow_screencap_ms:
        time.sleep(faults.slow_screencap_ms / 1000)
    return sh.phone.screenshot()


def raw_frame(image) -> tuple[bytes, bytes]:
    """screencap's raw format on Android 9+: a header of w, h, format (1 = RGBA_8888) and
    colour space (1 = sRGB) as little-endian uint32, then the pixels row by row. Returned as
    (header, pixels) so the 10 MB of pixels are never copied into a joined buffer."""
    w, h = image.size
    pixels = image.tobytes("raw", "RGBA") if image.mode == "RGB" else image.convert("RGBA").tobytes()
    return b"".join(v.to_bytes(4, "little") for v in (w, h, 1, 1)), pixels


def png_bytes(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


_SCREENCAP_USAGE = ("usage: screencap [-hp] [-d display-id] [FILENAME]\n   -h: this message\n"
                    "   -p: save the file as a png.\n"
                    f"   -d: specify the physical display ID to capture (default: {PHYSICAL_DISPLAY_ID})\n"
                    "       see \"dumpsys SurfaceFlinger --display-id\" for valid display IDs.\n"
                    "If FILENAME ends with .png it will be saved as a png.\n"
                    "If FILENAME is not given, the results will be printed to stdout.\n")


def _display_problem(value: str) -> str | None:
    """screencap.cpp's complaint about a -d value, or None for the built-in display's id. The id
    is SurfaceFlinger's 64-bit physical display id (dumpsys SurfaceFlinger --display-id); any
    other number names no display, so the capture fails as it does on a phone."""
    if not value.isdigit() or int(value) >= 1 << 64:
        return "Invalid display ID: Out of range [0, 2^64).\n"
    if int(value) != PHYSICAL_DISPLAY_ID:
        return "Failed to take screenshot. Status: -2\nCapturing failed.\n"   # NAME_NOT_FOUND
    return None


@COMMANDS.add("screencap")
def _screencap(sh, args, io_):
    png = False
    rest = []
    it = iter(args)
    for a in it:
        if a == "-p":
            png = True
        elif a == "-d":
            problem = _display_problem(next(it, ""))
            if problem:
                io_.err(problem)
                return 1
        elif a in ("-h", "--help"):
            io_.err(_SCREENCAP_USAGE)
            return 1
        elif a.startswith("-"):
            io_.err(f"screencap: invalid option -- {a.lstrip('-')}\n")
            return 1
        else:
            rest.append(a)
    image = _frame(sh)
    target = rest[0] if rest else None
    if target and target.endswith(".png"):
        png = True
    parts = (png_bytes(image),) if png else raw_frame(image)
    if sh.state.faults.truncate_next_screencap > 0:
        sh.state.faults.truncate_next_screencap -= 1
        joined = b"".join(parts)
        parts = (joined[: len(joined) // 3],)
    if target:
        try:
            sh.fs.write(target, b"".join(parts))
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            io_.err(f"Error opening file: {target} (No such file or directory)\n")
            return 1
    else:
        for part in parts:
            io_.out(part)
    return 0


@COMMANDS.add("wm")
def _wm(sh, args, io_):
    w, h = sh.phone.size
    if args[:1] == ["size"] and len(args) == 1:
        io_.out(f"Physical size: {w}x{h}\n")
    elif args[:1] == ["density"] and len(args) == 1:
        io_.out(f"Physical density: {sh.phone.density}\n")
    elif args[:1] in (["size"], ["density"]):
        io_.err(f"wm {args[0]}: changing it is not supported by SimPhone\n")
        return 1
    else:
        io_.err("Window manager (window) commands:\n  size [reset|WxH|WdpxHdp]\n  density [reset|DENSITY]\n")
        return 1 if args else 0
    return 0


@COMMANDS.add("getprop")
def _getprop(sh, args, io_):
    if args:
        value = sh.phone.getprop(args[0])
        io_.out(f"{value if value is not None else (args[1] if len(args) > 1 else '')}\n")
    else:
        props = sh.phone.getprop()
        io_.out("".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())))
    return 0


@COMMANDS.add("svc")
def _svc(sh, args, io_):
    keys = {"wifi": "wifi_on", "bluetooth": "bluetooth_on"}
    if len(args) == 2 and args[0] in keys and args[1] in ("enable", "disable"):
        sh.phone.settings_put("global", keys[args[0]], "1" if args[1] == "enable" else "0")
        return 0
    raise UsageError("Available commands: svc wifi|bluetooth enable|disable")

