"""AdbDevice: an Android phone (or a SimPhone) driven over adb, through the adb server.

Everything goes through one small path, `AdbTransport.run()` (adb_transport.py): select the
transport (`host:transport:SERIAL`), open a service (`exec:`, `shell,v2,raw:`, `shell:`), read
to the end. On top of that:

- screenshots are raw `screencap` frames over `exec:` (no PNG encode on the phone, no decode
  here: a 16-byte header, then RGBA rows decoded straight into an RGB image; adb_frames.py).
  Truncated frames are retried once and then raise; all-black frames (a FLAG_SECURE window,
  the screen off) raise unless `allow_black=True`. `screencap -p` is the fallback for formats
  we cannot parse.
- commands run over shell v2 when the phone has it, so exit codes and stderr are real and a
  failed `input` raises `DeviceCommandError` instead of passing silently.
- text is typed with `input text`, one single-quoted argument per chunk (see adb_text.py for
  the escaping rules), and anything `input text` cannot type goes through ADBKeyboard's
  `ADB_INPUT_B64` broadcast with the IME switched for the duration.
- a dropped transport is reconnected (`adb connect` for host:port serials) and the command
  retried, within a few seconds; commands that may already have run are not re-run. Then
  `DeviceOffline` says what to check.
- key names and app names are resolved by adb_keys.py and adb_apps.py; what the phone says of
  its build and screen (size, density, rotation) is parsed by adb_display.py.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DeviceCommandError, DeviceError, DeviceOffline, ToolArgumentsError, UserError
from .adb_apps import match_app
from .adb_display import ORIENTATION_COMMAND, PROPERTIES_COMMAND, frame_turned, read_display, read_rotation
from .adb_frames import TruncatedFrame, UnparsableFrame, decode_png_frame, decode_raw_frame
from .adb_keys import SYSTEM_BUTTONS, keycode
from .adb_text import (
    ADB_KEYBOARD, ADB_KEYBOARD_HELP, TYPABLE, adb_keyboard_commands, batch, shell_quote, text_commands,
    text_commands_pressing_tab,
)
from .adb_transport import ADB_SERVER_TIMEOUT, AdbTransport, adb_client, parse_v2

if TYPE_CHECKING:
    from PIL import Image

    from ..actions import Action


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
        self._transport: AdbTransport | None = None
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

        client = adb_client(self._adb_host, self._adb_port, timeout=ADB_SERVER_TIMEOUT)
        host, port = self._adb_host, self._adb_port = client.host, client.port
        transport = self._transport = AdbTransport(client, host, port, self._serial)
        try:
            if self._serial is None:
                self._serial = transport.serial = transport.only_device()
            transport.wait_until_usable(self.connect_timeout)
        except adbutils.AdbTimeout:
            raise DeviceOffline(
                f"the adb server at {host}:{port} accepts connections but did not answer within "
                f"{ADB_SERVER_TIMEOUT:g} s; it has hung: restart it (adb kill-server; adb start-server)"
            ) from None
        features = transport.host_query(f"host-serial:{self._serial}:features")
        self._v2 = "shell_v2" in features.split(",")
        self._load_properties()
        return self

    def close(self) -> None:
        self._transport = None

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
            except TruncatedFrame as e:
                if attempt == 2:
                    raise DeviceCommandError(f"screencap gave a truncated frame twice ({e})") from None
            except UnparsableFrame:
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
        from .. import actions as A  # loaded by whoever made `action`; not at import (issue #20)

        match action:
            case A.Tap(x=x, y=y):
                self._input(f"input tap {x} {y}")
            case A.LongPress(x=x, y=y, duration_ms=ms):
                self._input(f"input swipe {x} {y} {x} {y} {ms}")
            case A.Swipe(x1=x1, y1=y1, x2=x2, y2=y2, duration_ms=ms):
                self._input(f"input swipe {x1} {y1} {x2} {y2} {ms}")
            case A.TypeText(text=text):
                self.type_text(text)
            case A.Key(keys=keys):
                codes = [keycode(k) for k in keys]
                if len(codes) == 1:
                    self._input(f"input keyevent {codes[0]}")
                elif self._sdk and self._sdk < 33:
                    raise DeviceCommandError(f"key combinations need Android 13 or later (this phone runs SDK {self._sdk})")
                else:
                    self._input("input keycombination " + " ".join(codes))
            case A.SystemButton(button=button):
                self._input(f"input keyevent {SYSTEM_BUTTONS[button]}")
            case A.OpenApp(name=name):
                self.open_app(name)
            case A.Click(x=None) | A.Click(y=None):
                raise ToolArgumentsError("a phone has no pointer: give the click a coordinate")
            case A.Click(x=x, y=y, button=button, clicks=clicks):
                if button == "right":
                    self._input(f"input swipe {x} {y} {x} {y} 800")
                else:
                    self._input("; ".join([f"input tap {x} {y}"] * clicks))
            case A.MouseMove():
                pass  # a touchscreen has no hover; nothing to do
            case A.Drag(start=None):
                raise ToolArgumentsError("a phone has no pointer: give the drag a start coordinate")
            case A.Drag(x=x, y=y, start=(sx, sy), duration_ms=ms):
                self._input(f"input swipe {sx} {sy} {x} {y} {max(ms, 300)}")
            case A.Scroll(amount=amount, x=x, y=y):
                self._scroll(amount, x, y)
            case A.Wait() | A.Terminate() | A.AskUser():
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
        what = f"typing {len(text)} characters"  # never the text: it may hold a secret
        if all(c in TYPABLE or c == "\n" for c in text):
            for line in batch(text_commands(text)):
                self._input(line, what=what)
            return
        if not self._has_adb_keyboard():
            if all(c in TYPABLE or c in "\n\t" for c in text):
                # Only tabs stand in the way: press the Tab key for them.
                for line in batch(text_commands_pressing_tab(text)):
                    self._input(line, what=what)
                return
            odd = sorted({c for c in text if c not in TYPABLE and c not in "\n\t"})[:5]
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
            for line in batch(adb_keyboard_commands(text)):
                out = self._input(line, what=f"typing {len(text)} characters with ADBKeyboard")
                if "am broadcast" in line and out.count("Broadcast completed") != line.count("am broadcast"):
                    raise DeviceCommandError("ADBKeyboard did not take the text (no 'Broadcast completed'): "
                                             "is it installed and enabled? " + ADB_KEYBOARD_HELP)
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
            return match_app(name, self._installed_packages())
        except ToolArgumentsError:
            self._packages = None  # installed since we looked? look again once
            return match_app(name, self._installed_packages())

    def _installed_packages(self) -> list[str]:
        if self._packages is None:
            out = self.shell("pm list packages")
            self._packages = sorted(m.group(1) for m in re.finditer(r"^package:(\S+)", out, re.M))
        return self._packages

    # -- commands -----------------------------------------------------------------------------
    def shell(self, command: str, *, check: bool = True, timeout: float | None = None,
              idempotent: bool = True) -> str:
        """Run `command` with the phone's sh and return its output (stdout and stderr).
        `check`: raise DeviceCommandError on a non-zero exit status (shell v2 phones).
        `idempotent`: a command whose reply is lost is run again after reconnecting; pass False
        for one that changes the phone (`input`, `am start`, `settings put`): it then raises
        DeviceOffline instead, as it may or may not have run."""
        out, status = self._shell(command, timeout=timeout, idempotent=idempotent)
        if check and status not in (0, None):
            raise DeviceCommandError(f"`{command[:200]}` failed (exit {status}): {out.strip()[:500]}")
        return out

    def _input(self, command: str, *, check: bool = True, what: str | None = None) -> str:
        """A command that changes the phone: never re-run once it may have started. `what`
        names it in errors instead of the command itself (typed text may be a secret)."""
        out, status = self._shell(command, timeout=None, idempotent=False, what=what)
        failed = status not in (0, None) or bool(re.search(r"^(Error|Exception)\b|Exception occurred", out, re.M))
        if check and failed:
            detail = out.strip()[:500] if what is None else f"exit status {status}"
            raise DeviceCommandError(f"`{what or command[:200]}` failed: {detail}")
        return out

    def _shell(self, command: str, *, timeout: float | None, idempotent: bool,
               what: str | None = None) -> tuple[str, int | None]:
        what = what or command
        if self._v2:
            data = self._run(b"shell,v2,raw:" + command.encode("utf-8"), timeout=timeout,
                             idempotent=idempotent, what=what, v2=True)
            out, status = parse_v2(data)
            return out.decode("utf-8", "replace"), status
        data = self._run(b"shell:" + command.encode("utf-8"), timeout=timeout, idempotent=idempotent, what=what)
        return data.decode("utf-8", "replace"), None

    def _run(self, service: bytes, *, timeout: float | None, idempotent: bool, what: str, v2: bool = False) -> bytes:
        return self._connected().run(service, timeout=timeout or self.command_timeout, idempotent=idempotent,
                                     what=what, v2=v2, reconnect_window=self.reconnect_window)

    def _connected(self) -> AdbTransport:
        if self._transport is None:
            raise DeviceOffline("the AdbDevice is not connected: call connect() or use it as a context manager")
        return self._transport

    def pull(self, remote: str, local: str | Path) -> None:
        """Copy the phone's file `remote` to `local` (adb pull)."""
        self._connected().pull(remote, str(local))

    def record(self, seconds: float, path: "str | Path | None" = None) -> Path:
        """Record the screen for `seconds` (whole, 1-180) with `screenrecord`; the MP4's Path
        (a new temporary file unless `path`), the phone's copy removed."""
        from .recording import record_phone

        return record_phone(self, seconds, path)

    # -- geometry -----------------------------------------------------------------------------
    def _load_properties(self) -> None:
        display = read_display(self.shell(PROPERTIES_COMMAND, check=False))
        self._props, self._sdk, self._density = display.props, display.sdk, display.density
        self._physical, self._override, self._rotation = display.physical, display.override, display.rotation

    def _note_orientation(self, frame: tuple[int, int]) -> None:
        """A frame whose aspect disagrees with the known rotation means the phone turned."""
        landscape = frame_turned(self._physical, self._rotation, frame)
        if landscape is not None:
            rotation = read_rotation(self.shell(ORIENTATION_COMMAND, check=False))
            self._rotation = rotation if rotation is not None else (1 if landscape else 0)

    # -- frames -------------------------------------------------------------------------------
    def _decode_raw(self, data: bytes | bytearray) -> Image.Image:
        return decode_raw_frame(data, self._sdk)

    def _png_screenshot(self) -> Image.Image:
        data = self._run(b"exec:screencap -p", timeout=self.screenshot_timeout, idempotent=True, what="screencap -p")
        return decode_png_frame(data)


__all__ = ["AdbDevice", "keycode", "shell_quote", "SYSTEM_BUTTONS"]
