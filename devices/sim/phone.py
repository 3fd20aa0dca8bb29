"""SimPhone: a simulated Android phone's state, apps, rendering and input (no adb knowledge).

The ADB server drives a `Phone` from several connection threads, so every public method takes one
re-entrant lock. The screen is a stack of windows (app, status bar, gesture handle, keyboard,
shade, dialog) rebuilt from state whenever it changes; frames and dumps are cached per state
version, so repeated screenshots of an unchanged screen cost a copy.

Tasks and BACK/HOME follow Android 12+ (tasks.py); touches and keys are routed in input.py.

Beyond the contract: `Phone(..., date="2024-06-03")` (the fixed date shown with a fixed clock),
`Phone(..., animations="real")` (transitions take Android's times: transitions.py; default "off"),
`reset(seed=None)`, `force_stop(package)`, `set_reader_text(text, *, title, url)`, `clock()`,
`show_popup(..., when=PACKAGE)`, `receive_sms(sender, text)`,
`keyevent` also taking numbers and bare names ("3", "HOME"), and extra `state()` keys
(`background_tasks`, `screen_on`, `secure`, `time`, `volume`, `auto_rotate`, `popup_log`, `popups_armed`,
`overview_open`, `launcher`, `screen` = the front screen's own details such as form drafts).
`world`, `push`, `replace`, `finish`, `launch`, `dialog` and `date_text` are for the apps.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
import threading
from typing import Any

from PIL import Image

from . import system_ui, ui
from .apps import Activity, registry
from .apps.browser import BrowserMain
from .apps.launcher import Launcher
from .input import InputMixin, locked
from .tasks import LAUNCHER, TasksMixin
from .surfaces import SurfacesMixin
from .animation import Animator
from .transitions import TransitionsMixin
from .keys import KEYCODES
from .ui import Frame, View
from .world import World

__all__ = ["KEYCODES", "Phone"]

LATIN_IME = "com.android.inputmethod.latin/.LatinIME"
ADB_IME = "com.android.adbkeyboard/.AdbIME"
RECENTS_ACTIVITY = "com.android.quickstep.RecentsActivity"
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


class Phone(TasksMixin, InputMixin, SurfacesMixin, TransitionsMixin):
    """A simulated phone. Coordinates are pixels of the current orientation's frame."""

    def __init__(self, width: int = 1080, height: int = 2400, density: int = 420, *, clock: str | None = "09:30",
                 seed: int = 0, date: str = "2024-06-03", animations: str = "off"):
        self._lock = threading.RLock()
        self._anim = Animator(animations)   # transitions.py: "real" gives changes Android's transition times
        self._w, self._h, self._density = int(width), int(height), int(density)
        if clock is not None:
            hh, mm = clock.split(":")
            if not (0 <= int(hh) < 24 and 0 <= int(mm) < 60):
                raise ValueError(f"clock must be 'HH:MM', got {clock!r}")
        self._clock = clock
        self._date = _dt.date.fromisoformat(date)
        self._secure = False
        _tune_pillow_allocator()
        self.reset(seed)

    # ------------------------------------------------------------------ lifecycle and properties

    @locked
    def reset(self, seed: int | None = None) -> None:
        """Back to a fresh phone: seeded data, launcher in front, portrait, default IME."""
        self.seed = self.seed if seed is None else seed
        self.world = World.seeded(self.seed)
        self._apps = registry()
        self._rotation = 0
        self._ime = LATIN_IME
        self._launcher = Launcher(self)
        self._stack: list[Activity] = [self._launcher]
        self._tasks: dict[str, list[Activity]] = {}   # background tasks, least recent first
        self._overview = False
        self._overview_prev: str | None = None     # the app the overview was opened from
        self._recents_scroll: dict[str, int] = {}
        self._shade = False
        self._popup: dict | None = None
        self._popup_log: list[dict] = []
        self._armed_popups: dict[str, dict] = {}    # package -> a dialog to show when it comes to the front
        self._kbd = {"shift": False, "symbols": False}
        self._screen_on = True
        self._version = 0
        self._cache: dict[str, Any] = {}
        self._reset_surfaces()   # surfaces.py: heads-up, installed apps
        self._reset_transitions()

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
        self._changed()

    def _dims(self) -> tuple[int, int]:
        return (self._h, self._w) if self._rotation in (1, 3) else (self._w, self._h)

    def _changed(self) -> None:
        self._start_transition()   # transitions.py: while the cache still holds the screen as it was
        self._version += 1
        self._after_change()

    # ------------------------------------------------------------------ activities

    def clock(self) -> str:
        return self._clock if self._clock is not None else _dt.datetime.now().strftime("%H:%M")

    def date_text(self) -> str:
        d = self._date if self._clock is not None else _dt.date.today()
        return f"{_DAYS[d.weekday()]}, {_MONTHS[d.month - 1]} {d.day}"

    def packages(self) -> list[str]:
        return sorted({*self._apps, *_SYSTEM_PACKAGES})

    def apps(self) -> dict[str, str]:
        return {a.label: a.package for a in self._apps.values()}

    @locked
    def current(self) -> tuple[str, str]:
        if self._overview:
            return (LAUNCHER, RECENTS_ACTIVITY)
        top = self._top()
        return (top.package, top.name)

    # ------------------------------------------------------------------ composition and caching

    def _ime_height(self, w: int, h: int) -> int:
        top = self._top()
        if self._overview or top.focus is None:
            return 0
        f = Frame(w, h, self._density, False)
        if self._ime == ADB_IME:
            return f.dp(40)
        return min(f.dp(200 if w > h else 260), int(h * 0.45))

    def _frame(self) -> Frame:
        w, h = self._dims()
        return Frame(w, h, self._density, self.world.dark_theme, self._ime_height(w, h))

    def _windows(self) -> list[View]:
        """Window roots bottom to top, rebuilt when the state version or the minute changes."""
        key = (self._version, self.clock(), self._heads_up_key())
        if self._cache.get("key") == key:
            return self._cache["windows"]
        f = self._frame()
        wins: list[View] = []
        if self._overview:
            tasks = [(p, self._apps[p].label, self._apps[p].icon, self._apps[p].colour) for p in reversed(self._tasks)]
            wins.append(system_ui.recents(f, tasks, self._open_task, self._clear_tasks, self._go_home,
                                          self._recents_scroll))
            wins.append(system_ui.status_bar(f, self.clock(), self.world, True, self._apps))
        else:
            top = self._top()
            root = View((0, 0, f.w, f.h), cls=ui.FRAME, package=top.package)   # the frame starts as th.bg
            root.add(*top.build(f))
            top.reveal = False
            on_wallpaper = top is self._launcher
            wins += [root, system_ui.status_bar(f, self.clock(), self.world, on_wallpaper, self._apps),
                     system_ui.nav_handle(f, on_wallpaper)]
            if f.ime_h:
                wins.append(system_ui.adb_keyboard_bar(f) if self._ime == ADB_IME else
                            system_ui.keyboard(f, self._kbd["symbols"], self._kbd["shift"], self._ime_key))
        heads_up = self._heads_up_window(f)
        if heads_up is not None:
            wins.append(heads_up)
        if self._shade:
            wins.append(system_ui.shade(f, self.clock(), self.date_text(), self.world, self._close_shade, self._apps,
                                        self._open_notification, self._clear_notifications))
        if self._popup is not None:
            p = self._popup
            wins.append(system_ui.dialog(f, p["title"], p["text"], p["buttons"], self._answer_popup, p["package"]))
        self._cache = {"key": key, "windows": wins, "frame": f}
        return wins

    def _xml_windows(self) -> list[View]:
        # uiautomator dumps the focused window; the status bar is kept so its clock is readable.
        wins = self._windows()
        status = [w for w in wins if w.rid == system_ui.SID + "status_bar"]
        if self._popup is not None:
            return [wins[-1], *status]
        if self._shade:
            return [wins[-1]]
        return [wins[0], *status]

    @locked
    def screenshot(self) -> Image.Image:
        w, h = self._dims()
        if self._secure or not self._screen_on:
            return Image.new("RGB", (w, h), (0, 0, 0))
        moving = self._moving_frame()   # mid-transition (transitions.py), else None
        # A copy: callers may draw on it, and the cache (or a transition's end frame) must not change.
        return (moving if moving is not None else self._final_frame()).copy()

    def ui_xml(self) -> str:
        self._anim.wait_idle()   # as uiautomator, which waits for the UI to go idle; outside the lock
        with self._lock:
            return self._ui_xml()

    def _ui_xml(self) -> str:
        self._windows()
        if self._cache.get("xml") is None:
            w, h = self._dims()
            self._cache["xml"] = ui.dump(self._xml_windows(), self._rotation, (0, 0, w, h))
        return self._cache["xml"]

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
        self._changed()

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
        self._changed()
        return True

    # ------------------------------------------------------------------ fault injection and content

    @locked
    def show_popup(self, title: str, text: str, buttons: list[str] = ("OK",),  # type: ignore[assignment]
                   *, when: str | None = None) -> None:
        """A system dialog now, or (`when` a package) the next time that app comes to the front."""
        if when is not None:
            self.arm_popup(when, title, text, list(buttons) or ["OK"])
        else:
            self.dialog(title, text, list(buttons))
        self._changed()

    @locked
    def receive_sms(self, sender: str, text: str) -> dict:
        """An incoming text from `sender` (a contact's name or number, or any number)."""
        name, number = self.world.resolve_recipient(sender)
        m = {"id": self.world.next_id("message"), "from": name, "to": "me", "text": str(text), "number": number,
             "time": self.clock()}
        self.world.messages.append(m)
        self._changed()
        return dict(m)

    @locked
    def set_reader_text(self, text: str, *, title: str = "", url: str | None = None) -> None:
        self.world.reader.update(text=str(text), title=title)
        if url is not None:
            self.world.reader["url"] = url
        for stack in (self._stack, *self._tasks.values()):
            for a in stack:
                if isinstance(a, BrowserMain):
                    a.scroll.clear()    # a new page starts at the top
        self._changed()

    @locked
    def open_url(self, url: str) -> str | None:
        """A VIEW intent for a web URL: the browser's task comes to the front and loads it (browser.py)."""
        problem = self.start(BrowserMain.package)
        if problem is None:
            top = self._top()
            if isinstance(top, BrowserMain):
                top.load(url)
            else:
                self.push(BrowserMain(self, url))
            self._changed()
        return problem

    @locked
    def state(self) -> dict:
        top = self._top()
        field = self._focused_field()
        w = self.world
        return copy.deepcopy({
            "foreground": dict(zip(("package", "activity"), self.current())),
            "stack": [{"package": a.package, "activity": a.name} for a in self._stack],
            "background_tasks": list(self._tasks),
            "rotation": self._rotation, "ime": self._ime, "screen_on": self._screen_on, "secure": self._secure,
            "time": self.clock(),
            "wifi": w.wifi, "bluetooth": w.bluetooth, "airplane": w.airplane, "dark_theme": w.dark_theme,
            "brightness": w.brightness, "volume": w.volume, "auto_rotate": w.auto_rotate,
            "contacts": w.contacts, "messages": w.messages, "alarms": w.alarms, "notes": w.notes,
            "calculator": {k: v for k, v in w.calculator.items() if not k.startswith("_")},
            "focused_field": None if field is None else {
                "package": top.package, "resource_id": field.rid, "text": top.fields.get(top.focus, ""),
                "password": field.password},
            "popup": None if self._popup is None else {k: self._popup[k] for k in ("title", "text", "buttons")},
            "popup_log": self._popup_log,
            "popups_armed": {pkg: p["title"] for pkg, p in self._armed_popups.items()},
            "shade_open": self._shade,
            "overview_open": self._overview,
            "launcher": self._launcher.info(),
            "screen": top.info(),
            "reader": {**w.reader, "scroll": next((a.scroll.get("page", 0) for a in self._stack
                                                    if isinstance(a, BrowserMain)), 0)},
            **self.surface_state(),
        })
