"""AdbDevice: an Android phone (or a SimPhone) driven over adb, through the adb server.

Everything goes through one small path, `_service()`: select the transport
(`host:transport:SERIAL`), open a service (`exec:`, `shell,v2,raw:`, `shell:`), read to the
end. On top of that:

- screenshots are raw `screencap` frames over `exec:` (no PNG encode on the phone, no decode
  here: a 16-byte header, then RGBA rows decoded straight into an RGB image). Truncated frames
  are retried once and then raise; all-black frames (a FLAG_SECURE window, the screen off)
  raise unless `allow_black=True`. `screencap -p` is the fallback for formats we cannot parse.
- commands run over shell v2 when the phone has it, so exit codes and stderr are real and a
  failed `input` raises `DeviceCommandError` instead of passing silently.
- text is typed with `input text`, one single-quoted argument per chunk (see `_text_commands`
  for the escaping rules), and anything `input text` cannot type goes through ADBKeyboard's
  `ADB_INPUT_B64` broadcast with the IME switched for the duration.
- a dropped transport is reconnected (`adb connect` for host:port serials) and the command
  retried, within a few seconds; commands that may already have run are not re-run. Then
  `DeviceOffline` says what to check.
"""

from __future__ import annotations

import base64
import difflib
import re
import shutil
import socket
import subprocess
import time
from typing import Any

import tenacity
from PIL import Image

from ..actions import (
    Action, AskUser, Click, Drag, Key, LongPress, MouseMove, OpenApp, Scroll, Swipe, SystemButton,
    Tap, Terminate, TypeText, Wait,
)
from ..errors import DeviceCommandError, DeviceError, DeviceOffline, ToolArgumentsError, UserError

ADB_KEYBOARD = "com.android.adbkeyboard/.AdbIME"
ADB_KEYBOARD_HELP = (
    "install ADBKeyboard on the phone (the APK from https://github.com/senzhk/ADBKeyBoard: "
    "`adb install ADBKeyboard.apk`), then enable it with "
    "`adb shell ime enable com.android.adbkeyboard/.AdbIME`"
)
OFFLINE_HELP = (
    "check the USB cable or the network, run `adb devices` to see its state, and accept the "
    "\"Allow USB debugging?\" prompt on the phone if one is showing"
)
UNAUTHORIZED_HELP = (
    "the phone has not authorized this computer: unlock it and accept the \"Allow USB debugging?\" "
    "prompt (tick \"Always allow\"); if no prompt shows, revoke USB debugging authorizations in "
    "Developer options and reconnect"
)

# `input text` types printable ASCII; newlines go as KEYCODE_ENTER, everything else elsewhere.
_TYPABLE = frozenset(chr(c) for c in range(0x20, 0x7F))
# One `sh -c` line per adb OPEN: stay well inside old devices' 4 KiB payload limit.
_MAX_COMMAND = 3000

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
# Launcher labels to packages, for OpenApp by name; the first installed candidate wins.
COMMON_APPS: dict[str, tuple[str, ...]] = {
    "settings": ("com.android.settings",),
    "browser": ("com.android.chrome", "org.mozilla.firefox", "com.android.browser", "com.sec.android.app.sbrowser"),
    "chrome": ("com.android.chrome",),
    "firefox": ("org.mozilla.firefox",),
    "contacts": ("com.android.contacts", "com.google.android.contacts", "com.samsung.android.app.contacts"),
    "phone": ("com.google.android.dialer", "com.android.dialer", "com.samsung.android.dialer"),
    "dialer": ("com.google.android.dialer", "com.android.dialer"),
    "messages": ("com.google.android.apps.messaging", "com.android.mms", "com.samsung.android.messaging"),
    "sms": ("com.google.android.apps.messaging", "com.android.mms"),
    "clock": ("com.google.android.deskclock", "com.android.deskclock", "com.sec.android.app.clockpackage"),
    "alarm": ("com.google.android.deskclock", "com.android.deskclock"),
    "calculator": ("com.google.android.calculator", "com.android.calculator2", "com.sec.android.app.popupcalculator"),
    "notes": ("com.simphone.notes", "com.google.android.keep", "com.samsung.android.app.notes"),
    "keep": ("com.google.android.keep",),
    "keep notes": ("com.google.android.keep",),
    "camera": ("com.google.android.GoogleCamera", "com.android.camera2", "com.android.camera", "com.sec.android.app.camera"),
    "photos": ("com.google.android.apps.photos",),
    "gallery": ("com.google.android.apps.photos", "com.android.gallery3d", "com.sec.android.gallery3d"),
    "calendar": ("com.google.android.calendar", "com.android.calendar", "com.samsung.android.calendar"),
    "gmail": ("com.google.android.gm",),
    "email": ("com.google.android.gm", "com.android.email"),
    "maps": ("com.google.android.apps.maps",),
    "google maps": ("com.google.android.apps.maps",),
    "youtube": ("com.google.android.youtube",),
    "play store": ("com.android.vending",),
    "google play": ("com.android.vending",),
    "files": ("com.google.android.apps.nbu.files", "com.android.documentsui", "com.sec.android.app.myfiles"),
    "google": ("com.google.android.googlequicksearchbox",),
    "whatsapp": ("com.whatsapp",),
    "telegram": ("org.telegram.messenger",),
    "wechat": ("com.tencent.mm",),
    "home": ("com.android.launcher3", "com.google.android.apps.nexuslauncher"),
    "launcher": ("com.android.launcher3", "com.google.android.apps.nexuslauncher"),
}


class _Lost(Exception):
    """The transport failed. `started`: whether the service was already accepted (a command
    that may have run); `hung`: a timeout rather than an error."""

    def __init__(self, message: str, *, started: bool, hung: bool = False):
        super().__init__(message)
        self.started = started
        self.hung = hung


class AdbDevice:
    """A phone over adb. `serial=None` picks the only connected device.

    adb_host/adb_port: the adb server (default $ANDROID_ADB_SERVER_HOST/PORT, 127.0.0.1:5037;
    a local one is started when not running). settle: seconds to sleep after each executed
    action. connect_timeout: how long `connect()` waits for the device to be usable.
    command_timeout / screenshot_timeout: longest a command / a capture may take.
    reconnect_window: how long a dropped transport is retried before DeviceOffline.
    ime_settle: pause after switching to ADBKeyboard so it binds to the focused field.
    allow_black: return all-black frames instead of raising (FLAG_SECURE screens).
    """

    kind = "phone"

    def __init__(
        self,
        serial: str | None = None,
        *,
        adb_host: str | None = None,
        adb_port: int | None = None,
        settle: float = 0.0,
        connect_timeout: float = 10.0,
        command_timeout: float = 20.0,
        screenshot_timeout: float = 10.0,
        reconnect_window: float = 5.0,
        ime_settle: float = 0.3,
        allow_black: bool = False,
    ):
        self._serial = serial
        self._adb_host = adb_host
        self._adb_port = adb_port
        self.settle = settle
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.screenshot_timeout = screenshot_timeout
        self.reconnect_window = reconnect_window
        self.ime_settle = ime_settle
        self.allow_black = allow_black
        self._client: Any = None
        self._v2 = False
        self._physical = (0, 0)
        self._override: tuple[int, int] | None = None
        self._rotation = 0
        self._density = 0
        self._sdk = 0
        self._props: dict[str, str] = {}
        self._packages: list[str] | None = None
        self._adb_keyboard: bool | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def connect(self) -> "AdbDevice":
        import adbutils

        adb = _adb_binary()
        host = self._adb_host or _env("ANDROID_ADB_SERVER_HOST", "127.0.0.1")
        port = int(self._adb_port or _env("ANDROID_ADB_SERVER_PORT", "5037"))
        self._adb_host, self._adb_port = host, port
        _ensure_adb_server(adb, host, port)
        self._client = adbutils.AdbClient(host=host, port=port)
        if self._serial is None:
            self._serial = self._only_device()
        self._wait_until_usable(self.connect_timeout)
        features = self._host_query(f"host-serial:{self._serial}:features")
        self._v2 = "shell_v2" in features.split(",")
        self._load_properties()
        return self

    def close(self) -> None:
        self._client = None

    def __enter__(self) -> "AdbDevice":
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the loop reads ------------------------------------------------------------------
    @property
    def serial(self) -> str | None:
        return self._serial

    @property
    def size(self) -> tuple[int, int]:
        """Pointer space: `wm size` (the override when set), swapped in landscape."""
        w, h = self._override or self._physical
        return (h, w) if self._rotation % 2 else (w, h)

    @property
    def density(self) -> int:
        return self._density

    @property
    def rotation(self) -> int:
        return self._rotation

    @property
    def description(self) -> str:
        model = self._props.get("ro.product.model") or "Android phone"
        release = self._props.get("ro.build.version.release", "?")
        w, h = self.size
        return f"{model} (Android {release}, {w}x{h}, adb {self._serial})"

    def screenshot(self) -> Image.Image:
        for attempt in (1, 2):
            data = self._run(b"exec:screencap", timeout=self.screenshot_timeout, idempotent=True, what="screencap")
            try:
                image = self._decode_raw(data)
                break
            except _Truncated as e:
                if attempt == 2:
                    raise DeviceCommandError(f"screencap gave a truncated frame twice ({e})") from None
            except _Unparsable:
                image = self._png_screenshot()
                break
        self._note_orientation(image.size)
        if not self.allow_black and image.getbbox() is None:
            raise DeviceCommandError(
                "the screenshot is all black: a secure window (FLAG_SECURE) is showing or the "
                "screen is off; wake or unlock the phone, or pass allow_black=True"
            )
        return image

    def ui_tree(self) -> str:
        path = "/data/local/tmp/vlagent_ui.xml"
        out = self.shell(f"uiautomator dump {path} >/dev/null && cat {path}; rm -f {path}", check=False)
        start, end = out.find("<?xml"), out.rfind("</hierarchy>")
        if start < 0 or end < 0:
            raise DeviceCommandError(f"uiautomator dump failed: {out.strip()[:300]}")
        return out[start:end + len("</hierarchy>")]

    # -- actions ------------------------------------------------------------------------------
    def execute(self, action: Action) -> None:
        match action:
            case Tap(x=x, y=y):
                self._input(f"input tap {x} {y}")
            case LongPress(x=x, y=y, duration_ms=ms):
                self._input(f"input swipe {x} {y} {x} {y} {ms}")
            case Swipe(x1=x1, y1=y1, x2=x2, y2=y2, duration_ms=ms):
                self._input(f"input swipe {x1} {y1} {x2} {y2} {ms}")
            case TypeText(text=text):
                self.type_text(text)
            case Key(keys=keys):
                codes = [keycode(k) for k in keys]
                if len(codes) == 1:
                    self._input(f"input keyevent {codes[0]}")
                elif self._sdk and self._sdk < 33:
                    raise DeviceCommandError(f"key combinations need Android 13 or later (this phone runs SDK {self._sdk})")
                else:
                    self._input("input keycombination " + " ".join(codes))
            case SystemButton(button=button):
                self._input(f"input keyevent {SYSTEM_BUTTONS[button]}")
            case OpenApp(name=name):
                self.open_app(name)
            case Click(x=None) | Click(y=None):
                raise ToolArgumentsError("a phone has no pointer: give the click a coordinate")
            case Click(x=x, y=y, button=button, clicks=clicks):
                if button == "right":
                    self._input(f"input swipe {x} {y} {x} {y} 800")
                else:
                    self._input("; ".join([f"input tap {x} {y}"] * clicks))
            case MouseMove():
                pass  # a touchscreen has no hover; nothing to do
            case Drag(start=None):
                raise ToolArgumentsError("a phone has no pointer: give the drag a start coordinate")
            case Drag(x=x, y=y, start=(sx, sy), duration_ms=ms):
                self._input(f"input swipe {sx} {sy} {x} {y} {max(ms, 300)}")
            case Scroll(amount=amount, x=x, y=y):
                self._scroll(amount, x, y)
            case Wait() | Terminate() | AskUser():
                raise ValueError(f"{action.type} is handled by the agent loop, not sent to a device")
            case _:
                raise ValueError(f"AdbDevice cannot execute {action!r}")
        if self.settle:
            time.sleep(self.settle)

    def _scroll(self, amount: int, x: int | None, y: int | None) -> None:
        if amount == 0:
            return
        w, h = self.size
        cx = w // 2 if x is None else x
        cy = h // 2 if y is None else y
        distance = min(abs(amount) * h // 10, int(h * 0.6))
        # Positive scrolls up (earlier content): the finger moves down the screen.
        sign = 1 if amount > 0 else -1
        y1 = min(max(cy - sign * distance // 2, int(h * 0.05)), int(h * 0.95))
        y2 = min(max(cy + sign * distance // 2, int(h * 0.05)), int(h * 0.95))
        self._input(f"input swipe {cx} {y1} {cx} {y2} 300")

    def type_text(self, text: str) -> None:
        """Type `text` into the focused field exactly; newlines press Enter."""
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text:
            return
        if all(c in _TYPABLE or c == "\n" for c in text):
            for line in _batch(_text_commands(text)):
                self._input(line)
            return
        if not self._has_adb_keyboard():
            if all(c in _TYPABLE or c in "\n\t" for c in text):
                # Only tabs stand in the way: press the Tab key for them.
                commands = []
                for k, part in enumerate(text.split("\t")):
                    if k:
                        commands.append("input keyevent KEYCODE_TAB")
                    commands.extend(_text_commands(part))
                for line in _batch(commands):
                    self._input(line)
                return
            odd = sorted({c for c in text if c not in _TYPABLE and c not in "\n\t"})[:5]
            raise UserError(
                f"typing {''.join(odd)!r} needs ADBKeyboard, since `input text` only types ASCII: "
                + ADB_KEYBOARD_HELP
            )
        self._type_with_adb_keyboard(text)

    def _type_with_adb_keyboard(self, text: str) -> None:
        previous = self.shell("settings get secure default_input_method").strip()
        switched = previous != ADB_KEYBOARD
        if switched:
            self._input(f"ime set {ADB_KEYBOARD}")
            if self.ime_settle:
                time.sleep(self.ime_settle)
        typed = False
        try:
            commands = []
            for k, line in enumerate(text.split("\n")):
                if k:
                    commands.append("input keyevent KEYCODE_ENTER")
                for chunk in _utf8_chunks(line, 1500):
                    b64 = base64.b64encode(chunk.encode("utf-8")).decode("ascii")
                    commands.append(f"am broadcast -a ADB_INPUT_B64 --es msg {b64}")
            for line in _batch(commands):
                out = self._input(line)
                if "am broadcast" in line and out.count("Broadcast completed") != line.count("am broadcast"):
                    raise DeviceCommandError(f"ADBKeyboard did not take the text: {out.strip()[:300]}")
            typed = True
        finally:
            if switched and previous and previous != "null":
                try:
                    self.shell(f"ime set {shell_quote(previous)}", check=False)
                except DeviceError:
                    if typed:  # otherwise the error that stopped the typing is the one to see
                        raise

    def _has_adb_keyboard(self) -> bool:
        if self._adb_keyboard is None:
            installed = self.shell("ime list -s -a", check=False).split()
            if ADB_KEYBOARD not in installed:
                self._adb_keyboard = False
            else:
                if ADB_KEYBOARD not in self.shell("ime list -s", check=False).split():
                    self.shell(f"ime enable {ADB_KEYBOARD}")
                self._adb_keyboard = True
        return self._adb_keyboard

    def open_app(self, name: str) -> None:
        """Bring an app to the front by package (`com.android.settings`), component
        (`pkg/.Activity`) or launcher label ("Settings", "Chrome")."""
        name = name.strip()
        if re.fullmatch(r"[\w.]+/[\w.$]+", name):
            out = self._input(f"am start -n {shell_quote(name)}", check=False)
            if "Error" in out:
                raise ToolArgumentsError(f"cannot start {name}: {out.strip()[:200]}")
            return
        package = self._resolve_app(name)
        out = self._input(f"monkey -p {shell_quote(package)} -c android.intent.category.LAUNCHER 1", check=False)
        if "No activities found" in out or "monkey aborted" in out:
            raise DeviceCommandError(f"{package} has no launcher activity to open")

    def _resolve_app(self, name: str) -> str:
        try:
            return self._match_app(name, self._installed_packages())
        except ToolArgumentsError:
            self._packages = None  # installed since we looked? look again once
            return self._match_app(name, self._installed_packages())

    def _match_app(self, name: str, packages: list[str]) -> str:
        if name in packages:
            return name
        key = re.sub(r"\s+", " ", name.lower())
        for candidate in COMMON_APPS.get(key, ()):
            if candidate in packages:
                return candidate
        # A label that names the package's last part: "YouTube" -> com.google.android.youtube.
        squashed = key.replace(" ", "")
        hits = [p for p in packages if p.lower().rsplit(".", 1)[-1].rstrip("0123456789") == squashed]
        if len(hits) == 1:
            return hits[0]
        labels = sorted(COMMON_APPS) + packages
        close = difflib.get_close_matches(key, labels, n=5, cutoff=0.5)
        close += [p for p in packages if squashed and squashed in p.lower() and p not in close][:5]
        hint = f"; close matches: {', '.join(close[:8])}" if close else ""
        if len(hits) > 1:
            hint = f"; it could be any of {', '.join(hits)}: give the package name"
        raise ToolArgumentsError(f"no app named {name!r} is installed{hint}")

    def _installed_packages(self) -> list[str]:
        if self._packages is None:
            out = self.shell("pm list packages")
            self._packages = sorted(m.group(1) for m in re.finditer(r"^package:(\S+)", out, re.M))
        return self._packages

    # -- commands -----------------------------------------------------------------------------
    def shell(self, command: str, *, check: bool = True, timeout: float | None = None) -> str:
        """Run `command` with the phone's sh and return its output (stdout and stderr).
        `check`: raise DeviceCommandError on a non-zero exit status (shell v2 phones)."""
        out, status = self._shell(command, timeout=timeout, idempotent=True)
        if check and status not in (0, None):
            raise DeviceCommandError(f"`{command[:200]}` failed (exit {status}): {out.strip()[:500]}")
        return out

    def _input(self, command: str, *, check: bool = True) -> str:
        """A command that changes the phone: never re-run once it may have started."""
        out, status = self._shell(command, timeout=None, idempotent=False)
        failed = status not in (0, None) or bool(re.search(r"^(Error|Exception)\b|Exception occurred", out, re.M))
        if check and failed:
            raise DeviceCommandError(f"`{command[:200]}` failed: {out.strip()[:500]}")
        return out

    def _shell(self, command: str, *, timeout: float | None, idempotent: bool) -> tuple[str, int | None]:
        if self._v2:
            data = self._run(b"shell,v2,raw:" + command.encode("utf-8"), timeout=timeout,
                             idempotent=idempotent, what=command, v2=True)
            out, status = _parse_v2(data)
            return out.decode("utf-8", "replace"), status
        data = self._run(b"shell:" + command.encode("utf-8"), timeout=timeout, idempotent=idempotent, what=command)
        return data.decode("utf-8", "replace"), None

    def _run(self, service: bytes, *, timeout: float | None, idempotent: bool, what: str, v2: bool = False) -> bytes:
        """Open `service` on the device and read it to the end. A failed transport is
        reconnected and the command retried, a few times within `reconnect_window` after the
        first failure; never retried: a command that may have run (unless `idempotent`), a
        command that is merely slow, an unauthorized phone."""
        if self._client is None:
            raise DeviceOffline("the AdbDevice is not connected: call connect() or use it as a context manager")
        timeout = timeout or self.command_timeout
        first_failure: list[float] = []

        def attempt() -> bytes:
            try:
                data = self._once(service, timeout)
                if v2 and not _v2_complete(data):
                    raise _Lost("the connection closed before the command finished", started=True)
                return data
            except _Lost as e:
                first_failure[:] = first_failure or [time.monotonic()]
                if e.hung and e.started and self._alive():
                    raise DeviceCommandError(f"`{what[:200]}` did not finish within {timeout:.0f} s") from None
                if e.started and not idempotent:
                    self._recover(time.monotonic() + self.reconnect_window)
                    raise DeviceOffline(
                        f"the connection to {self._serial} dropped while running `{what[:100]}` (it may or "
                        f"may not have happened); it is reconnected for the next command"
                    ) from None
                raise

        def give_up(state: tenacity.RetryCallState) -> bool:
            return state.attempt_number >= 4 or time.monotonic() - first_failure[0] >= self.reconnect_window

        try:
            return tenacity.Retrying(
                retry=tenacity.retry_if_exception_type(_Lost),
                stop=give_up,
                before_sleep=lambda _state: self._recover(first_failure[0] + self.reconnect_window),
                reraise=True,
            )(attempt)
        except _Lost as e:
            raise DeviceOffline(f"{self._serial} is not reachable ({e}): {OFFLINE_HELP}") from None

    def _once(self, service: bytes, timeout: float) -> bytes:
        sock = self._server_socket(min(timeout, 5.0))
        try:
            try:
                _request(sock, b"host:transport:" + self._serial.encode())
                _request(sock, service)
            except socket.timeout:
                raise _Lost("the device did not answer", started=False, hung=True) from None
            except _Refused as e:
                message = str(e)
                if "unauthorized" in message:
                    raise DeviceOffline(f"{self._serial} is unauthorized: {UNAUTHORIZED_HELP}") from None
                if any(w in message for w in ("not found", "offline", "no devices", "authorizing", "closed")):
                    raise _Lost(message, started=False) from None
                raise DeviceCommandError(f"the phone refused {service[:60].decode(errors='replace')!r}: {message}") from None
            except (OSError, EOFError) as e:
                raise _Lost(f"adb server connection failed: {e}", started=False) from None
            sock.settimeout(timeout)
            try:
                return _read_to_end(sock)
            except socket.timeout:
                raise _Lost("timed out", started=True, hung=True) from None
            except OSError as e:
                raise _Lost(f"connection broke: {e}", started=True) from None
        finally:
            sock.close()

    def _server_socket(self, timeout: float) -> socket.socket:
        # Our own socket rather than adbutils' AdbConnection, whose close() sleeps 10 ms.
        try:
            sock = socket.create_connection((self._adb_host, self._adb_port), timeout=timeout)
        except OSError as e:
            try:  # the adb server died: start it again once
                _ensure_adb_server(_adb_binary(), self._adb_host, self._adb_port)
                sock = socket.create_connection((self._adb_host, self._adb_port), timeout=timeout)
            except (OSError, UserError, DeviceOffline):
                raise _Lost(f"no adb server at {self._adb_host}:{self._adb_port} ({e})", started=False) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _alive(self) -> bool:
        """Whether the phone answers a trivial command quickly (a slow command, not a dead phone)."""
        try:
            return b"ok" in self._once(b"shell:echo ok", 3.0)
        except (_Lost, DeviceOffline, DeviceCommandError):
            return False

    def _recover(self, deadline: float) -> None:
        """Get the transport back: `adb connect` again for host:port serials, else wait."""
        state = self._state()
        if state == "device":
            return
        if state == "unauthorized":
            raise DeviceOffline(f"{self._serial} is unauthorized: {UNAUTHORIZED_HELP}")
        if _is_tcp(self._serial):
            try:
                if state == "offline":
                    self._client.disconnect(self._serial)
                self._client.connect(self._serial, timeout=max(0.5, min(2.0, deadline - time.monotonic())))
            except Exception:  # adbutils raises several kinds; the state check below decides
                pass
        end = min(deadline, time.monotonic() + 1.5)
        while time.monotonic() < end:
            if self._state() == "device":
                return
            time.sleep(0.1)

    # -- connecting ---------------------------------------------------------------------------
    def _host_query(self, request: str) -> str:
        sock = self._server_socket(5.0)
        try:
            _request(sock, request.encode())
            n = int(_recv_exact(sock, 4), 16)
            return _recv_exact(sock, n).decode("utf-8", "replace")
        except _Refused as e:
            raise DeviceOffline(f"{self._serial}: {e}: {OFFLINE_HELP}") from None
        finally:
            sock.close()

    def _state(self) -> str | None:
        try:
            for info in self._client.list():
                if info.serial == self._serial:
                    return info.state
        except Exception:
            return None
        return None

    def _only_device(self) -> str:
        infos = self._client.list()
        ready = [i.serial for i in infos if i.state == "device"]
        if len(ready) == 1:
            return ready[0]
        if len(ready) > 1:
            raise UserError(f"several phones are connected ({', '.join(ready)}); choose one with its serial, e.g. adb:{ready[0]}")
        if any(i.state == "unauthorized" for i in infos):
            raise DeviceOffline(f"the only phone is unauthorized: {UNAUTHORIZED_HELP}")
        raise DeviceOffline(f"no phone is connected to adb: {OFFLINE_HELP}")

    def _wait_until_usable(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = self._state()
        if state is None and _is_tcp(self._serial):
            try:
                self._client.connect(self._serial, timeout=max(1.0, timeout))
            except Exception:
                pass
        while True:
            state = self._state()
            if state == "device":
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if state == "unauthorized":
            raise DeviceOffline(f"{self._serial} is unauthorized: {UNAUTHORIZED_HELP}")
        raise DeviceOffline(f"{self._serial} is {state or 'not connected'}: {OFFLINE_HELP}")

    def _load_properties(self) -> None:
        out = self.shell(
            "getprop ro.product.model; getprop ro.build.version.release; getprop ro.build.version.sdk; "
            "wm size; wm density; dumpsys display | grep -E 'orientation=|mCurrentOrientation'",
            check=False,
        )
        lines = out.splitlines()
        self._props = {"ro.product.model": lines[0].strip() if lines else "",
                       "ro.build.version.release": lines[1].strip() if len(lines) > 1 else ""}
        sdk = lines[2].strip() if len(lines) > 2 else ""
        self._sdk = int(sdk) if sdk.isdigit() else 0
        phys = re.search(r"Physical size: (\d+)x(\d+)", out)
        if not phys:
            raise DeviceCommandError(f"cannot read the screen size from `wm size`: {out.strip()[:300]}")
        self._physical = (int(phys.group(1)), int(phys.group(2)))
        over = re.search(r"Override size: (\d+)x(\d+)", out)
        self._override = (int(over.group(1)), int(over.group(2))) if over else None
        dens = re.search(r"Override density: (\d+)", out) or re.search(r"Physical density: (\d+)", out)
        self._density = int(dens.group(1)) if dens else 0
        rot = re.search(r"orientation=(\d)", out)
        self._rotation = int(rot.group(1)) if rot else 0

    def _note_orientation(self, frame: tuple[int, int]) -> None:
        """A frame whose aspect disagrees with the known rotation means the phone turned."""
        w, h = self._physical
        if w == h or not w:
            return
        landscape = (frame[0] > frame[1]) != (w > h)
        if landscape != bool(self._rotation % 2):
            out = self.shell("dumpsys display | grep orientation=", check=False)
            rot = re.search(r"orientation=(\d)", out)
            self._rotation = int(rot.group(1)) if rot else (1 if landscape else 0)

    # -- frames -------------------------------------------------------------------------------
    def _decode_raw(self, data: bytes | bytearray) -> Image.Image:
        if len(data) < 12:
            raise _Truncated(f"{len(data)} bytes")
        data = _strip_text_prefix(data)
        w, h, fmt = (int.from_bytes(data[i:i + 4], "little") for i in (0, 4, 8))
        spec = _RAW_FORMATS.get(fmt)
        if spec is None or not (0 < w <= 16384 and 0 < h <= 16384):
            raise _Unparsable(f"format {fmt}, {w}x{h}")
        bpp, rawmode = spec
        pixels = w * h * bpp
        # Android 9+ writes a 16-byte header (with the colour space), older ones 12 bytes.
        if len(data) == 16 + pixels:
            header = 16
        elif len(data) == 12 + pixels and self._sdk < 28:
            header = 12
        else:
            header = 12 if 0 < self._sdk < 28 else 16
        if len(data) < header + pixels:
            raise _Truncated(f"{len(data) - header} of {pixels} pixel bytes")
        view = memoryview(data)[header:header + pixels]
        if rawmode == "RGBX":  # the common case: map the buffer as is, one pass to drop alpha
            return Image.frombuffer("RGBX", (w, h), view, "raw", "RGBX", 0, 1).convert("RGB")
        return Image.frombytes("RGB", (w, h), bytes(view), "raw", rawmode)

    def _png_screenshot(self) -> Image.Image:
        import io

        data = self._run(b"exec:screencap -p", timeout=self.screenshot_timeout, idempotent=True, what="screencap -p")
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except Exception as e:
            raise DeviceCommandError(f"screencap -p gave no image ({len(data)} bytes): {e}") from None
        return image.convert("RGB")


class _Truncated(Exception):
    pass


class _Unparsable(Exception):
    pass


class _Refused(Exception):
    pass


# format -> (bytes per pixel, Pillow raw mode decoding straight into RGB)
_RAW_FORMATS = {1: (4, "RGBX"), 2: (4, "RGBX"), 3: (3, "RGB"), 4: (2, "BGR;16"), 5: (4, "BGRX")}


def _strip_text_prefix(data: bytes | bytearray) -> bytes | bytearray | memoryview:
    """Some phones print a warning (several displays) before the frame on the same stream."""
    if data[:1] == b"[" or data[:8] == b"Warning:":
        end = data.find(b"\n")
        if 0 <= end < 1024:
            return memoryview(data)[end + 1:]
    return data


def _request(sock: socket.socket, payload: bytes) -> None:
    """One smart-socket request to the adb server: 4 hex digits of length, the payload, then
    OKAY or FAIL with a message."""
    sock.sendall(b"%04x" % len(payload) + payload)
    status = _recv_exact(sock, 4)
    if status == b"OKAY":
        return
    if status == b"FAIL":
        n = int(_recv_exact(sock, 4), 16)
        raise _Refused(_recv_exact(sock, n).decode("utf-8", "replace"))
    raise _Refused(f"unexpected reply {status!r}")


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise EOFError("the adb server closed the connection")
        got += k
    return bytes(buf)


def _read_to_end(sock: socket.socket) -> bytearray:
    out = bytearray()
    chunk = bytearray(1 << 20)
    view = memoryview(chunk)
    while True:
        k = sock.recv_into(view)
        if not k:
            return out
        out += view[:k]


def _parse_v2(data: bytes | bytearray) -> tuple[bytes, int | None]:
    """Shell protocol packets: id (1 stdout, 2 stderr, 3 exit), length, data."""
    out = bytearray()
    status = None
    i = 0
    while i + 5 <= len(data):
        kind, n = data[i], int.from_bytes(data[i + 1:i + 5], "little")
        body = data[i + 5:i + 5 + n]
        if kind in (1, 2):
            out += body
        elif kind == 3 and body:
            status = body[0]
        i += 5 + n
    return bytes(out), status


def _v2_complete(data: bytes | bytearray) -> bool:
    i = 0
    while i + 5 <= len(data):
        kind, n = data[i], int.from_bytes(data[i + 1:i + 5], "little")
        if kind == 3:
            return True
        i += 5 + n
    return False


def _text_commands(text: str) -> list[str]:
    """`input text` commands that type `text` (printable ASCII and newlines) exactly.

    Rules: each argument is single-quoted for mksh ('\\'' for a quote), so no character is
    special to the shell. `input text` itself turns "%s" into a space: spaces are written as
    %s (a literal "% " becomes "%%s", which Android types as "% "), and a real "%" followed by
    "s" is split across two commands so the pair never meets in one argument. Newlines are
    KEYCODE_ENTER presses. Long runs are cut into pieces of 200 characters.
    """
    commands: list[str] = []
    for k, line in enumerate(text.split("\n")):
        if k:
            commands.append("input keyevent KEYCODE_ENTER")
        pieces: list[str] = []
        start = 0
        for i in range(1, len(line)):
            if (line[i - 1] == "%" and line[i] == "s") or i - start >= 200:
                pieces.append(line[start:i])
                start = i
        pieces.append(line[start:])
        for piece in pieces:
            if piece:
                commands.append("input text " + shell_quote(piece.replace(" ", "%s")))
    return commands


def shell_quote(arg: str) -> str:
    """Quote one argument for mksh: inside single quotes nothing is special but the quote."""
    return "'" + arg.replace("'", "'\\''") + "'"


def _batch(commands: list[str]) -> list[str]:
    """Join commands with && into shell lines under the length limit (fewer round trips)."""
    lines: list[str] = []
    for c in commands:
        if lines and len(lines[-1]) + len(c) + 4 <= _MAX_COMMAND:
            lines[-1] += " && " + c
        else:
            lines.append(c)
    return lines


def _utf8_chunks(text: str, limit: int) -> list[str]:
    chunks, current, size = [], [], 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if current and size + n > limit:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    if current:
        chunks.append("".join(current))
    return chunks


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


def _is_tcp(serial: str | None) -> bool:
    return bool(serial) and re.fullmatch(r"[\w.\-\[\]:]+:\d+", serial or "") is not None


def _env(name: str, default: str) -> str:
    import os

    return os.environ.get(name) or default


def _adb_binary() -> str:
    try:
        import adbutils
    except ImportError:
        raise UserError("phones need adbutils: pip install adbutils") from None
    try:
        return adbutils.adb_path()
    except Exception:
        found = shutil.which("adb")
        if found:
            return found
        raise UserError(
            "no adb binary found: install Android platform-tools (https://developer.android.com/tools/releases/platform-tools) "
            "and put adb on PATH, or set ADBUTILS_ADB_PATH to it"
        ) from None


def _ensure_adb_server(adb: str, host: str, port: int) -> None:
    """Start a local adb server on `port` when none answers (adbutils would start one on the
    default port, not necessarily ours)."""
    try:
        socket.create_connection((host, port), timeout=1.0).close()
        return
    except OSError:
        pass
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise DeviceOffline(f"no adb server answers at {host}:{port}: start it there with `adb -a -P {port} server`")
    try:
        subprocess.run([adb, "-P", str(port), "start-server"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(f"cannot start the adb server ({adb} -P {port} start-server): {e}") from None


__all__ = ["AdbDevice", "keycode", "shell_quote", "COMMON_APPS", "SYSTEM_BUTTONS"]
