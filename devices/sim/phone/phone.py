"""SimPhone: a simulated Android phone's state, apps, rendering and input (no adb knowledge).

The ADB server drives a `Phone` from several connection threads, so every public method takes one
re-entrant lock (lock.py), which the phone's parts share. A Phone is composed of its parts, each
holding its own state and behaviour and reaching the others through the phone:

    phone.tasks        tasks.py        the activity stack, background tasks, overview, shade, dialogs
    phone.input        input.py        touches, keys and text turned into state changes
    phone.screen       screen.py       the windows, the frame and the XML dump, cached per state version
    phone.surfaces     surfaces.py     notifications, the package installer, the dialer's calls
    phone.transitions  transitions.py  when a change animates, and the frames in between

The device contract (tap, swipe, keyevent, input_text, start, screenshot, ui_xml, state, ...) is the
Phone's own; the apps navigate through `host.tasks` and the shell commands reach a part directly.

Beyond the contract: `Phone(..., date="2024-06-03")` (the fixed date shown with a fixed clock),
`Phone(..., animations="real")` (transitions take Android's times: transitions.py; default "off"),
`reset(seed=None)`, `force_stop(package)`, `set_reader_text(text, *, title, url)`, `clock()`,
`show_popup(..., when=PACKAGE)`, `receive_sms(sender, text)`,
`keyevent` also taking numbers and bare names ("3", "HOME"), and extra `state()` keys
(`background_tasks`, `screen_on`, `secure`, `time`, `volume`, `auto_rotate`, `popup_log`, `popups_armed`,
`overview_open`, `launcher`, `screen` = the front screen's own details such as form drafts).
`world`, `date_text` and `tasks` (push, replace, finish, launch, dialog) are for the apps.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
import threading
from typing import Any

from PIL import Image

from ..apps import registry
from ..apps.browser import BrowserMain
from .input import ADB_IME, LATIN_IME, Input
from .lock import locked
from .screen import Screen
from .surfaces import Surfaces
from .tasks import LAUNCHER, Tasks
from .transitions import Transitions
from .world import World

_SYSTEM_PACKAGES = ["android", "com.android.systemui", "com.android.shell", "com.android.providers.settings",
                    "com.android.inputmethod.latin", "com.android.adbkeyboard", LAUNCHER,
                    "com.android.packageinstaller", "com.android.vpndialogs"]
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _tune_pillow_allocator() -> None:
    """Halve frame cost. With Pillow's defaults every full-screen image (~10 MB) is one block that
    goes back to the OS when freed and is faulted in again on the next frame (~8 ms at 1080x2400),
    and small scratch images realloc cached blocks up and down. 1 MB blocks, 32 of them cached
    (32 MB at most), keep the memory resident. Process-wide, so left alone when the user tuned
    it with Pillow's own PILLOW_BLOCK_SIZE / PILLOW_BLOCKS_MAX variables."""
    if "PILLOW_BLOCK_SIZE" not in os.environ and "PILLOW_BLOCKS_MAX" not in os.environ:
        Image.core.set_block_size(1 << 20)
        Image.core.set_blocks_max(max(32, Image.core.get_blocks_max()))


class Phone:
    """A simulated phone. Coordinates are pixels of the current orientation's frame."""

    def __init__(self, width: int = 1080, height: int = 2400, density: int = 420, *, clock: str | None = "09:30",
                 seed: int = 0, date: str = "2024-06-03", animations: str = "off"):
        self._lock = threading.RLock()
        # transitions.py: "real" gives changes Android's transition times
        self.transitions = Transitions(self, animations)
        self._w, self._h, self._density = int(width), int(height), int(density)
        if clock is not None:
            hh, mm = clock.split(":")
            if not (0 <= int(hh) < 24 and 0 <= int(mm) < 60):
                raise ValueError(f"clock must be 'HH:MM', got {clock!r}")
        self._clock = clock
        self._date = _dt.date.fromisoformat(date)
        self._secure = False
        self.tasks = Tasks(self)
        self.input = Input(self)
        self.screen = Screen(self)
        self.surfaces = Surfaces(self)
        _tune_pillow_allocator()
        self.reset(seed)

    # ------------------------------------------------------------------ lifecycle and properties

    @locked
    def reset(self, seed: int | None = None) -> None:
        """Back to a fresh phone: seeded data, launcher in front, portrait, default IME."""
        self.seed = self.seed if seed is None else seed
        self.world = World.seeded(self.seed)
        self.apps_by_package = registry()   # package -> App: what can be launched (installed APKs too)
        self._rotation = 0
        self._ime = LATIN_IME
        self.tasks.reset()
        self.input.reset()
        self.screen_on = True
        self.screen.reset()
        self.surfaces.reset()       # heads-up, installed apps
        self.transitions.reset()

    @property
    def size(self) -> tuple[int, int]:
        return (self._w, self._h)

    @property
    def density(self) -> int:
        return self._density

    @property
    def rotation(self) -> int:
        return self._rotation

    @property
    def secure(self) -> bool:
        return self._secure

    @secure.setter
    def secure(self, value: bool) -> None:
        with self._lock:
            self._secure = bool(value)

    @locked
    def set_rotation(self, r: int) -> None:
        r = int(r)
        if r not in (0, 1, 2, 3):
            raise ValueError(f"rotation must be 0..3, got {r}")
        self._rotation = r
        self.changed()

    def changed(self) -> None:
        """The state changed: a transition may start (while the screen's cache still holds the screen
        as it was), and the screen is rebuilt from the new state when next shown."""
        self.transitions.start()
        self.screen.version += 1
        self.transitions.after_change()

    # ------------------------------------------------------------------ clock, packages, the front activity

    def clock(self) -> str:
        return self._clock if self._clock is not None else _dt.datetime.now().strftime("%H:%M")

    def date_text(self) -> str:
        d = self._date if self._clock is not None else _dt.date.today()
        return f"{_DAYS[d.weekday()]}, {_MONTHS[d.month - 1]} {d.day}"

    def packages(self) -> list[str]:
        return sorted({*self.apps_by_package, *_SYSTEM_PACKAGES})

    def apps(self) -> dict[str, str]:
        return {a.label: a.package for a in self.apps_by_package.values()}

    @locked
    def current(self) -> tuple[str, str]:
        return self.tasks.current()

    # ------------------------------------------------------------------ the device contract

    @locked
    def screenshot(self) -> Image.Image:
        w, h = self.screen.dims()
        if self._secure or not self.screen_on:
            return Image.new("RGB", (w, h), (0, 0, 0))
        moving = self.transitions.moving_frame()   # mid-transition, else None
        # A copy: callers may draw on it, and the cache (or a transition's end frame) must not change.
        return (moving if moving is not None else self.screen.final_frame()).copy()

    def ui_xml(self) -> str:
        self.transitions.anim.wait_idle()   # as uiautomator, which waits for the UI to go idle; outside the lock
        with self._lock:
            return self.screen.ui_xml()

    def tap(self, x: int, y: int) -> None:
        self.input.tap(x, y)

    def long_press(self, x: int, y: int, duration_ms: int = 1000) -> None:
        self.input.long_press(x, y, duration_ms)

    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int = 300) -> None:
        self.input.swipe(x1, y1, x2, y2, duration_ms)

    def drag_and_drop(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int = 300) -> None:
        self.input.drag_and_drop(x1, y1, x2, y2, duration_ms)

    def input_text(self, text: str) -> None:
        self.input.input_text(text)

    def keyevent(self, key: str) -> bool:
        """A key by name or number ("KEYCODE_HOME", "HOME", "3"); False for a key Android does not know."""
        return self.input.keyevent(key)

    def start(self, target: str) -> str | None:
        """`am start` of a package or PKG/ACTIVITY: None when it started, else Android's error text."""
        return self.tasks.start(target)

    def force_stop(self, package: str) -> bool:
        """`am force-stop`: the app's task (and its drafts) is gone; True if it was running."""
        return self.tasks.force_stop(package)

    def attach_files(self, fs: Any) -> None:
        """The device's filesystem (shell/device_state.py), where the package installer reads APKs from."""
        self.surfaces.files = fs

    # ------------------------------------------------------------------ system services

    @locked
    def settings_get(self, namespace: str, key: str) -> str | None:
        if (namespace, key) == ("secure", "default_input_method"):
            return self._ime
        if (namespace, key) == ("secure", "enabled_input_methods"):
            return ":".join(self.ime_list())
        if (namespace, key) == ("system", "user_rotation"):
            return str(self._rotation)
        if (namespace, key) == ("global", "device_name"):
            return "SimPhone"
        return self.world.setting(namespace, key)

    @locked
    def settings_put(self, namespace: str, key: str, value: str) -> None:
        value = str(value)
        if (namespace, key) == ("secure", "default_input_method"):
            self.set_ime(value)
        elif (namespace, key) == ("system", "user_rotation") and value.strip() in ("0", "1", "2", "3"):
            self._rotation = int(value)
        else:
            self.world.put_setting(namespace, key, value)
        self.changed()

    def getprop(self, name: str | None = None) -> str | dict[str, str]:
        props = {
            "ro.product.model": "SimPhone", "ro.product.manufacturer": "vlagent", "ro.product.brand": "simphone",
            "ro.product.name": "simphone", "ro.product.device": "simphone", "ro.build.version.sdk": "34",
            "ro.build.version.release": "14", "ro.build.id": "UQ1A.240205.004", "ro.build.type": "userdebug",
            "ro.build.fingerprint": "simphone/simphone/simphone:14/UQ1A.240205.004/1:userdebug/test-keys",
            "ro.serialno": f"SIMPHONE{self.seed:08d}", "ro.product.cpu.abi": "x86_64",
            "ro.sf.lcd_density": str(self._density), "sys.boot_completed": "1", "ro.debuggable": "1",
            "persist.sys.locale": "en-US", "ro.kernel.qemu": "0",
        }
        return dict(props) if name is None else props.get(name, "")

    def ime_list(self) -> list[str]:
        return [LATIN_IME, ADB_IME]

    @locked
    def ime_current(self) -> str:
        return self._ime

    @locked
    def set_ime(self, ime_id: str) -> bool:
        pkg, _, cls = ime_id.strip().partition("/")
        short = cls[len(pkg):] if cls.startswith(pkg + ".") else cls
        match = f"{pkg}/{short}"
        if match not in self.ime_list():
            return False
        self._ime = match
        self.changed()
        return True

    # ------------------------------------------------------------------ fault injection and content

    @locked
    def show_popup(self, title: str, text: str, buttons: list[str] = ("OK",),  # type: ignore[assignment]
                   *, when: str | None = None) -> None:
        """A system dialog now, or (`when` a package) the next time that app comes to the front."""
        if when is not None:
            self.tasks.arm_popup(when, title, text, list(buttons) or ["OK"])
        else:
            self.tasks.dialog(title, text, list(buttons))
        self.changed()

    @locked
    def receive_sms(self, sender: str, text: str) -> dict:
        """An incoming text from `sender` (a contact's name or number, or any number)."""
        name, number = self.world.resolve_recipient(sender)
        m = {"id": self.world.next_id("message"), "from": name, "to": "me", "text": str(text), "number": number,
             "time": self.clock()}
        self.world.messages.append(m)
        self.changed()
        return dict(m)

    @locked
    def set_reader_text(self, text: str, *, title: str = "", url: str | None = None) -> None:
        self.world.reader.update(text=str(text), title=title)
        if url is not None:
            self.world.reader["url"] = url
        for stack in self.tasks.stacks():
            for a in stack:
                if isinstance(a, BrowserMain):
                    a.scroll.clear()    # a new page starts at the top
        self.changed()

    @locked
    def open_url(self, url: str) -> str | None:
        """A VIEW intent for a web URL: the browser's task comes to the front and loads it (apps/browser.py)."""
        problem = self.start(BrowserMain.package)
        if problem is None:
            top = self.tasks.top()
            if isinstance(top, BrowserMain):
                top.load(url)
            else:
                self.tasks.push(BrowserMain(self, url))
            self.changed()
        return problem

    @locked
    def state(self) -> dict:
        tasks = self.tasks
        top = tasks.top()
        field = self.input.focused_field()
        w = self.world
        return copy.deepcopy({
            "foreground": dict(zip(("package", "activity"), self.current())),
            "stack": [{"package": a.package, "activity": a.name} for a in tasks.stack],
            "background_tasks": list(tasks.background),
            "rotation": self._rotation, "ime": self._ime, "screen_on": self.screen_on, "secure": self._secure,
            "time": self.clock(),
            "wifi": w.wifi, "bluetooth": w.bluetooth, "airplane": w.airplane, "dark_theme": w.dark_theme,
            "brightness": w.brightness, "volume": w.volume, "auto_rotate": w.auto_rotate,
            "contacts": w.contacts, "messages": w.messages, "alarms": w.alarms, "notes": w.notes,
            "calculator": {k: v for k, v in w.calculator.items() if not k.startswith("_")},
            "focused_field": None if field is None else {
                "package": top.package, "resource_id": field.rid, "text": top.fields.get(top.focus, ""),
                "password": field.password},
            "popup": None if tasks.popup is None else {k: tasks.popup[k] for k in ("title", "text", "buttons")},
            "popup_log": tasks.popup_log,
            "popups_armed": {pkg: p["title"] for pkg, p in tasks.armed_popups.items()},
            "shade_open": tasks.shade,
            "overview_open": tasks.overview,
            "launcher": tasks.launcher.info(),
            "screen": top.info(),
            "reader": {**w.reader, "scroll": next((a.scroll.get("page", 0) for a in tasks.stack
                                                    if isinstance(a, BrowserMain)), 0)},
            **self.surfaces.state(),
        })
