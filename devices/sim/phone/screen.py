"""A Phone's part: the screen as a stack of windows (app, status bar, gesture handle, keyboard,
heads-up, shade, dialog), rebuilt from the phone's state whenever it changes, and what is made of
them: the frame drawn with Pillow and the `uiautomator dump` XML. Both are cached per state
version, so repeated captures of an unchanged screen cost a copy.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from . import system_ui, ui
from .input import ADB_IME
from .ui import Frame, View


# Tasks of system packages that are no launcher app (label, glyph, colour): the package installer's.
_SYSTEM_TASKS = {"com.android.packageinstaller": ("Package installer", "apps", (26, 115, 232))}


def _task_card(apps: dict, package: str) -> tuple[str, str, tuple]:
    """(label, glyph, colour) of an overview card: the app's, else the system package's."""
    app = apps.get(package)
    if app is not None:
        return app.label, app.icon, app.colour
    return _SYSTEM_TASKS.get(package, (package, "apps", (95, 99, 104)))


class Screen:
    """Window composition and its cache (`version` moves on with every state change)."""

    def __init__(self, phone: Any):
        self.phone = phone

    def reset(self) -> None:
        self.version = 0
        self.cache: dict[str, Any] = {}

    def dims(self) -> tuple[int, int]:
        """The frame's size in the current orientation."""
        w, h = self.phone.size
        return (h, w) if self.phone.rotation in (1, 3) else (w, h)

    def _ime_height(self, w: int, h: int) -> int:
        top = self.phone.tasks.top()
        if self.phone.tasks.overview or top.focus is None:
            return 0
        f = Frame(w, h, self.phone.density, False)
        if self.phone.ime_current() == ADB_IME:
            return f.dp(40)
        return min(f.dp(200 if w > h else 260), int(h * 0.45))

    def frame(self) -> Frame:
        w, h = self.dims()
        return Frame(w, h, self.phone.density, self.phone.world.dark_theme, self._ime_height(w, h))

    def windows(self) -> list[View]:
        """Window roots bottom to top, rebuilt when the state version or the minute changes."""
        phone, tasks, surfaces = self.phone, self.phone.tasks, self.phone.surfaces
        apps, clock = phone.apps_by_package, phone.clock()
        key = (self.version, clock, surfaces.heads_up_key())
        if self.cache.get("key") == key:
            return self.cache["windows"]
        f = self.frame()
        wins: list[View] = []
        if tasks.overview:
            recents = [(p, *_task_card(apps, p)) for p in reversed(tasks.background)]
            wins.append(system_ui.recents(f, recents, tasks.open_task, tasks.clear_tasks, tasks.go_home,
                                          tasks.recents_scroll))
            wins.append(system_ui.status_bar(f, clock, phone.world, True, apps))
        else:
            top = tasks.top()
            root = View((0, 0, f.w, f.h), cls=ui.FRAME, package=top.package)   # the frame starts as th.bg
            root.add(*top.build(f))
            top.reveal = False
            on_wallpaper = top is tasks.launcher
            wins += [root, system_ui.status_bar(f, clock, phone.world, on_wallpaper, apps),
                     system_ui.nav_handle(f, on_wallpaper)]
            if f.ime_h:
                kbd = phone.input.kbd
                wins.append(system_ui.adb_keyboard_bar(f) if phone.ime_current() == ADB_IME else
                            system_ui.keyboard(f, kbd["symbols"], kbd["shift"], phone.input.ime_key))
        heads_up = surfaces.heads_up_window(f)
        if heads_up is not None:
            wins.append(heads_up)
        if tasks.shade:
            wins.append(system_ui.shade(f, clock, phone.date_text(), phone.world, tasks.close_shade, apps,
                                        surfaces.tap_notification, surfaces.clear_notifications))
        if tasks.popup is not None:
            p = tasks.popup
            wins.append(system_ui.dialog(f, p["title"], p["text"], p["buttons"], tasks.answer_popup, p["package"]))
        self.cache = {"key": key, "windows": wins, "frame": f}
        return wins

    def _xml_windows(self) -> list[View]:
        # uiautomator dumps the focused window; the status bar is kept so its clock is readable.
        wins = self.windows()
        status = [w for w in wins if w.rid == system_ui.SID + "status_bar"]
        if self.phone.tasks.popup is not None:
            return [wins[-1], *status]
        if self.phone.tasks.shade:
            return [wins[-1]]
        return [wins[0], *status]

    def ui_xml(self) -> str:
        """The dump of the settled screen (the caller holds the phone's lock)."""
        self.windows()
        if self.cache.get("xml") is None:
            w, h = self.dims()
            self.cache["xml"] = ui.dump(self._xml_windows(), self.phone.rotation, (0, 0, w, h))
        return self.cache["xml"]

    def render(self, wins: list[View], frame: Frame) -> Image.Image:
        img = Image.new("RGB", (frame.w, frame.h), frame.theme.bg)
        canvas = ui.Canvas(img)
        for win in wins:
            ui.render(win, canvas)
        return img

    def final_frame(self) -> Image.Image:
        """The frame of the current state (cached)."""
        wins = self.windows()
        if self.cache.get("image") is None:
            self.cache["image"] = self.render(wins, self.cache["frame"])
        return self.cache["image"]
