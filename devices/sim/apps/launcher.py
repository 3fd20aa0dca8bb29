"""Launcher: a home screen of app icons over a wallpaper, and an app drawer (swipe up) with search.

The home screen keeps the apps in registry order, one after another, then the apps installed
since (adb install, pm install, the package installer) that have a launcher activity, in the
order they came. A task that must make an
agent look at the screen sets `settings put secure simphone_launcher_layout SEED`: the icons are
then scattered over a grid of HOME_SLOTS cells, the arrangement drawn from SEED, the grid's rows
always in the same place (a fresh phone has no such setting, so every other task sees the usual
layout). `settings put secure simphone_launcher_home PKG[,PKG...]` keeps only those apps' icons on
the home screen, as a person who removed the others would (they stay in the app drawer).
"""

from __future__ import annotations

import functools
import random

from PIL import Image

from ..phone import ui, widgets as w
from ..phone.glyphs import glyph
from ..phone.text import ellipsize, line_height
from ..phone.ui import Canvas, Frame, View
from .base import Activity

PACKAGE = "com.android.launcher3"
RID = PACKAGE + ":id/"
LAYOUT_SETTING = ("secure", "simphone_launcher_layout")
HOME_APPS_SETTING = ("secure", "simphone_launcher_home")
HOME_SLOTS = 20  # cells of the scattered home screen: 5 rows of 4 in portrait


def home_slots(count: int, cells: int, layout: str | None) -> list[int]:
    """The grid cell of each of `count` icons: in order without a layout seed, else `count`
    distinct cells of `cells` drawn from it."""
    try:
        seed = int(layout) if layout is not None else None
    except ValueError:
        seed = None
    if seed is None:
        return list(range(count))
    return random.Random(f"launcher-layout/{seed}").sample(range(cells), count)


@functools.lru_cache(maxsize=8)
def wallpaper(width: int, height: int, dark: bool) -> Image.Image:
    """Graded down (red: blue to purple) and across (green: towards teal on the right), as many stock
    wallpapers are; a patch's colour tells where on the screen it is, which a model that learns
    to point (docs/training.md) can read. Rendered once per size: a gradient costs ~a frame's
    budget if drawn every time."""
    (r0, r1), (g0, g1), b = ((24, 64), (30, 72), 84) if dark else ((66, 150), (84, 164), 198)
    down = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    across = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90)  # rises left to right
    across = across.resize((width, height), Image.Resampling.BILINEAR)
    return Image.merge("RGB", (down.point(lambda v: r0 + (r1 - r0) * v // 255),
                               across.point(lambda v: g0 + (g1 - g0) * v // 255),
                               Image.new("L", (width, height), b)))


def app_icon(f: Frame, app, cx: int, top: int, cell_w: int, on_tap, label_colour) -> View:
    size = f.dp(56)
    px = f.dp(12)
    h = size + f.dp(8) + line_height(px)

    def paint(c: Canvas, v: View) -> None:
        cx, top = (v.bounds[0] + v.bounds[2]) // 2, v.bounds[1]
        cy = top + size // 2
        c.circle(cx, cy, size // 2, fill=app.colour)
        glyph(c, app.icon, cx, cy, f.dp(30), (255, 255, 255), app.colour)
        c.text(cx, top + size + f.dp(8), ellipsize(app.label, px, cell_w - f.dp(4)), px, label_colour, "ma")

    return View((cx - cell_w // 2, top, cx + cell_w // 2, top + h), cls=ui.TEXT_VIEW, text=app.label,
                desc=app.label, rid=RID + "icon", clickable=True, long_clickable=True, focusable=True,
                paint=paint, on_tap=on_tap, on_long=lambda: None)


class Launcher(Activity):
    package = PACKAGE
    name = ".Launcher"

    def __init__(self, host):
        super().__init__(host)
        self.drawer = False

    def info(self) -> dict:
        return {"drawer_open": self.drawer}

    def on_back(self) -> bool:
        if self.drawer:
            self.close_drawer()
        return True   # BACK on home does nothing, as on Android

    def on_home(self) -> None:
        self.close_drawer()

    def close_drawer(self) -> None:
        self.drawer = False
        self.clear_focus()
        self.fields.pop("search", None)
        self.scroll.clear()

    def open_app(self, package: str) -> None:
        self.close_drawer()
        self.host.start(package)

    def build(self, f: Frame) -> list[View]:
        bg = View((0, 0, f.w, f.h), in_xml=False,
                  paint=lambda c, v: c.image.paste(wallpaper(f.w, f.h, f.theme.dark), (-c.ox, -c.oy)))
        return [bg, *(self._drawer(f) if self.drawer else self._home(f))]

    def _apps(self) -> list:
        """The launchable apps: the phone's own, then those installed with a launcher activity."""
        return [a for a in self.host.apps_by_package.values() if a.launcher]

    def _home(self, f: Frame) -> list[View]:
        apps = self._apps()
        cols = 7 if f.landscape else 4
        margin = f.dp(16)
        cell_w = (f.w - 2 * margin) // cols
        row_h = f.dp(56 + 8 + 12 * 1.4 + 20)
        layout = self.host.settings_get(*LAYOUT_SETTING)
        cells = max(len(apps), HOME_SLOTS if layout is not None else 0)
        slots = home_slots(len(apps), cells, layout)
        kept = self.host.settings_get(*HOME_APPS_SETTING)
        if kept is not None:  # the others' cells stay empty, as after removing their icons
            packages = set(kept.split(","))
            shown = [(slot, app) for slot, app in zip(slots, apps) if app.package in packages]
            slots, apps = [slot for slot, _ in shown], [app for _, app in shown]
        # A scattered grid keeps all its rows, so a cell is always in one place on the screen.
        rows = -(-cells // cols) if layout is not None else (max(slots, default=0) + cols) // cols
        top = f.bottom - f.dp(72) - rows * row_h
        white = (255, 255, 255)
        date = self.host.date_text()
        root = View((0, f.top, f.w, f.bottom), cls=ui.FRAME, rid=RID + "workspace",
                    on_swipe=self._home_swipe)
        root.add(w.label(f, (f.dp(24), f.top + f.dp(24), f.w - f.dp(24), f.top + f.dp(72)), date, size=22,
                         color=white, rid=RID + "date"))
        for slot, app in zip(slots, apps):
            r, col = divmod(slot, cols)
            cx = margin + col * cell_w + cell_w // 2
            root.add(app_icon(f, app, cx, top + r * row_h, cell_w, lambda p=app.package: self.open_app(p), white))
        hint_y = f.bottom - f.dp(36)
        root.add(View((f.w // 2 - f.dp(20), hint_y - f.dp(12), f.w // 2 + f.dp(20), hint_y + f.dp(12)), in_xml=False,
                      paint=lambda c, v: glyph(c, "chevron_up", f.w // 2, hint_y, f.dp(24), white)))
        return [root]

    def _home_swipe(self, dx: int, dy: int) -> bool:
        if dy < 0 and abs(dy) > abs(dx):  # swipe up anywhere on home opens all apps
            self.drawer = True
            return True
        return False

    def _drawer(self, f: Frame) -> list[View]:
        th = f.theme
        query = self.fields.get("search", "")
        apps = sorted(self._apps(), key=lambda a: a.label.casefold())
        shown = [a for a in apps if query.strip().casefold() in a.label.casefold()]
        panel = View((0, f.top, f.w, f.h), cls=ui.FRAME, rid=RID + "apps_view", on_swipe=self._drawer_swipe,
                     paint=lambda c, v: c.rect((0, f.top, f.w, f.h + f.dp(28)), fill=th.bg, radius=f.dp(28)))
        y = f.top + f.dp(20)
        search = w.text_field(f, self, "search", f.dp(16), y, f.w - f.dp(32), label_text="Search apps",
                              rid=RID + "search_box", on_submit=lambda: shown and self.open_app(shown[0].package))
        panel.add(search)
        y = search.bounds[3] + f.dp(16)
        cols = 6 if f.landscape else 4
        margin = f.dp(16)
        cell_w = (f.w - 2 * margin) // cols
        row_h = f.dp(56 + 8 + 12 * 1.4 + 24)
        grid = ui.Scroll((0, y, f.w, f.bottom), self.scroll, "drawer", rid=RID + "apps_list_view")
        for i, app in enumerate(shown):
            r, col = divmod(i, cols)
            cx = margin + col * cell_w + cell_w // 2
            grid.add(app_icon(f, app, cx, y + r * row_h, cell_w, lambda p=app.package: self.open_app(p), th.text))
        grid.finish(y + ((len(shown) + cols - 1) // cols) * row_h)
        if not shown:
            grid.add(w.label(f, (0, y, f.w, y + f.dp(56)), "No apps found", align="center", color=th.muted))
        panel.add(grid)
        return [panel]

    def _drawer_swipe(self, dx: int, dy: int) -> bool:
        if dy > 0 and abs(dy) > abs(dx):  # pull down at the top of the list closes the drawer
            self.close_drawer()
            return True
        return False
