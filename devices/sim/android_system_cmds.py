"""SimPhone's Android commands for input and the system's state: input, screencap, wm, dumpsys,
getprop, settings, svc. Their output is Android 14's wherever parsers (adbutils, scripts,
AdbDevice) look, and their failures are Android's too: `input text` with a character outside
the virtual keyboard map fails the way the real one does.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

from .sh import ShellExit, UsageError, command

# The virtual keyboard map `input text` uses: printable ASCII, tab and newline.
_KCM_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\t", "\n"}


# -- Android: input


def _keycodes() -> dict[str, int]:
    from .phone import KEYCODES

    return KEYCODES


def _keyname(key: str) -> str | None:
    codes = _keycodes()
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


@command("input")
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
            _press(phone, keys)
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


@command("screencap")
def _screencap(sh, args, io_):
    png = False
    rest = []
    it = iter(args)
    for a in it:
        if a == "-p":
            png = True
        elif a == "-d":
            next(it, None)
        elif a in ("-h", "--help"):
            io_.err("usage: screencap [-hp] [-d display-id] [FILENAME]\n")
            return 0
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


@command("wm")
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


def _viewport(sh) -> str:
    w, h = sh.phone.size
    r = sh.phone.rotation
    cw, ch = (h, w) if r % 2 else (w, h)
    return (f"DisplayViewport{{type=INTERNAL, valid=true, isActive=true, displayId=0, "
            f"uniqueId='local:4619827259835644672', physicalPort=0, orientation={r}, "
            f"logicalFrame=Rect(0, 0 - {cw}, {ch}), physicalFrame=Rect(0, 0 - {cw}, {ch}), "
            f"deviceWidth={cw}, deviceHeight={ch}}}")


def _full_activity(pkg: str, act: str) -> str:
    return pkg + act if act.startswith(".") else act


@command("dumpsys")
def _dumpsys(sh, args, io_):
    phone = sh.phone
    what = args[0] if args else ""
    w, h = phone.size
    r = phone.rotation
    cw, ch = (h, w) if r % 2 else (w, h)
    pkg, act = phone.current()
    short = f"{pkg}/{act}"
    if what == "window":
        io_.out(
            "WINDOW MANAGER DISPLAY CONTENTS (dumpsys window displays)\n"
            f"  Display: mDisplayId=0 rootTasks=1\n"
            f"    init={w}x{h} {phone.density}dpi base={w}x{h} {phone.density}dpi cur={cw}x{ch} "
            f"app={cw}x{ch} rng={min(cw, ch)}x{min(cw, ch)}-{max(cw, ch)}x{max(cw, ch)}\n"
            f"    mRotation={r} mAltRotation={r}\n"
            f"  mCurrentFocus=Window{{5f1e2a3 u0 {pkg}/{_full_activity(pkg, act)}}}\n"
            f"  mFocusedApp=ActivityRecord{{8c0ffee u0 {short} t12}}\n"
        )
    elif what == "display":
        io_.out(
            "DISPLAY MANAGER (dumpsys display)\n"
            f"  mViewports=[{_viewport(sh)}]\n"
            f"  mDisplayDeviceInfo: DisplayDeviceInfo{{\"Built-in Screen\": uniqueId=\"local:4619827259835644672\", "
            f"{w} x {h}, modeId 1, density {phone.density}, rotation {r}}}\n"
        )
    elif what == "input":
        io_.out(
            "INPUT MANAGER (dumpsys input)\n\nInput Manager State:\n"
            f"  Viewports:\n    {_viewport(sh)}\n"
            f"  SurfaceOrientation: {r}\n"
        )
    elif what == "activity":
        sub = args[1] if len(args) > 1 else "activities"
        if sub == "top":
            io_.out(f"TASK 12 id=12 userId=0\n  ACTIVITY {short} 8c0ffee pid=4321\n")
        else:
            io_.out(
                "ACTIVITY MANAGER ACTIVITIES (dumpsys activity activities)\n"
                f"  mResumedActivity: ActivityRecord{{8c0ffee u0 {short} t12}}\n"
                f"  ResumedActivity: ActivityRecord{{8c0ffee u0 {short} t12}}\n"
            )
    elif what == "input_method":
        io_.out(f"  mCurMethodId={phone.ime_current()}\n  mInputShown=true\n")
    elif what == "power":
        io_.out("  mWakefulness=Awake\n  mHoldingDisplaySuspendBlocker=true\n")
    elif what == "battery":
        io_.out("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n"
                "  Wireless powered: false\n  status: 2\n  health: 2\n  present: true\n  level: 87\n"
                "  scale: 100\n  voltage: 4213\n  temperature: 250\n  technology: Li-ion\n")
    elif what == "package" and len(args) > 1:
        if args[1] not in phone.packages():
            return 0
        io_.out(f"Packages:\n  Package [{args[1]}] (c0ffee):\n    versionCode=34 minSdk=26 targetSdk=34\n"
                f"    versionName=14\n    pkgFlags=[ SYSTEM HAS_CODE ALLOW_CLEAR_USER_DATA ]\n"
                f"    firstInstallTime=2024-01-01 00:00:00\n    lastUpdateTime=2024-01-01 00:00:00\n")
    else:
        io_.err(f"Can't find service: {what}\n")
    return 0


@command("getprop")
def _getprop(sh, args, io_):
    if args:
        value = sh.phone.getprop(args[0])
        io_.out(f"{value if value is not None else (args[1] if len(args) > 1 else '')}\n")
    else:
        props = sh.phone.getprop()
        io_.out("".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())))
    return 0


@command("settings")
def _settings(sh, args, io_):
    if len(args) >= 2 and args[0] == "--user":
        args = args[2:]
    if len(args) >= 3 and args[0] == "get":
        v = sh.phone.settings_get(args[1], args[2])
        io_.out(f"{'null' if v is None else v}\n")
    elif len(args) >= 4 and args[0] == "put":
        if args[1] not in ("global", "system", "secure"):
            raise UsageError(f"Invalid namespace '{args[1]}'")
        sh.phone.settings_put(args[1], args[2], args[3])
    else:
        raise UsageError("usage:  settings [--user <USER_ID> | current] get namespace key\n"
                     "        settings [--user <USER_ID> | current] put namespace key value")
    return 0


@command("svc")
def _svc(sh, args, io_):
    keys = {"wifi": "wifi_on", "bluetooth": "bluetooth_on"}
    if len(args) == 2 and args[0] in keys and args[1] in ("enable", "disable"):
        sh.phone.settings_put("global", keys[args[0]], "1" if args[1] == "enable" else "0")
        return 0
    raise UsageError("Available commands: svc wifi|bluetooth enable|disable")
