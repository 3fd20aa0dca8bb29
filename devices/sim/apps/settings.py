"""Settings: the top-level list and its sub-pages (Network & internet, Connected devices, Display, ...).

Toggles write through `World`, so `settings get global wifi_on` and the quick settings tiles see
the same value. Sub-pages are `.SubSettings` activities, as on Android.
"""

from __future__ import annotations

from .. import ui, widgets as w
from ..ui import Frame, View
from . import App
from .base import Activity

PACKAGE = "com.android.settings"
RID = PACKAGE + ":id/"
_ICON_BG = {"network": (26, 115, 232), "connected": (24, 128, 56), "apps": (227, 116, 0),
            "notifications": (233, 30, 99), "battery": (0, 137, 123), "storage": (161, 66, 244),
            "sound": (57, 73, 171), "display": (227, 116, 0), "security": (24, 128, 56),
            "accessibility": (95, 99, 104), "system": (95, 99, 104), "about": (26, 115, 232)}


def _pages(world) -> list[tuple[str, str, str, str]]:
    """(page, title, summary, icon) for the top-level list; summaries reflect live state."""
    net = "Airplane mode is on" if world.airplane else ("Wi-Fi on" if world.wifi else "Wi-Fi off")
    return [
        ("network", "Network & internet", net, "wifi"),
        ("connected", "Connected devices", "Bluetooth on" if world.bluetooth else "Bluetooth off", "bluetooth"),
        ("apps", "Apps", "Recent apps, default apps", "apps"),
        ("notifications", "Notifications", "Notification history, conversations", "bell"),
        ("battery", "Battery", "100%", "battery"),
        ("storage", "Storage", "34% used - 84.5 GB free", "storage"),
        ("sound", "Sound & vibration", "Volume, haptics, Do Not Disturb", "speaker"),
        ("display", "Display", "Dark theme, font size, brightness", "sun"),
        ("security", "Security & privacy", "App security, device lock", "lock"),
        ("accessibility", "Accessibility", "Display, interaction, audio", "person"),
        ("system", "System", "Languages, gestures, time, backup", "info"),
        ("about", "About phone", "SimPhone", "phone"),
    ]


class SettingsHome(Activity):
    package = PACKAGE
    name = ".Settings"

    def build(self, f: Frame) -> list[View]:
        th = f.theme
        bar = w.app_bar(f, "Settings", large=True)
        top = bar.bounds[3]
        lst = ui.Scroll((0, top, f.w, f.bottom), self.scroll, "list", rid=RID + "recycler_view", fill=th.bg)
        y = top
        for page, title, summary, icon in _pages(self.world):
            row = w.nav_row(f, y, title, summary, lambda p=page, t=title: self.host.push(SubSettings(self.host, p, t)),
                            icon=icon, icon_bg=_ICON_BG[page], rid=RID + "dashboard_tile")
            lst.add(row)
            y = row.bounds[3]
        lst.finish(y + f.dp(16))
        return [lst, bar]


class SubSettings(Activity):
    package = PACKAGE
    name = ".SubSettings"

    def __init__(self, host, page: str, title: str):
        super().__init__(host)
        self.page, self.title = page, title

    def info(self) -> dict:
        return {"page": self.page}

    def build(self, f: Frame) -> list[View]:
        th = f.theme
        bar = w.app_bar(f, self.title, on_up=self.finish, large=True)
        top = bar.bounds[3]
        lst = ui.Scroll((0, top, f.w, f.bottom), self.scroll, "list", rid=RID + "recycler_view", fill=th.bg)
        y = top
        for row in getattr(self, "_" + self.page, self._static)(f, y):
            lst.add(row)
            y = row.bounds[3]
        lst.finish(y + f.dp(16))
        return [lst, bar]

    # -- pages: each yields rows top to bottom starting at y

    def _network(self, f: Frame, y: int):
        wd = self.world
        wifi = w.switch_row(f, y, "Wi-Fi", "Connected to SimNet" if wd.wifi else "Off", wd.wifi,
                            lambda: wd.set_wifi(not wd.wifi), rid=RID + "wifi_switch")
        yield wifi
        yield w.switch_row(f, wifi.bounds[3], "Airplane mode", "Turn off radios" if not wd.airplane else "On",
                           wd.airplane, lambda: wd.set_airplane(not wd.airplane), rid=RID + "airplane_switch")

    def _connected(self, f: Frame, y: int):
        wd = self.world
        bt = w.switch_row(f, y, "Bluetooth", "Visible to nearby devices as SimPhone" if wd.bluetooth else "Off",
                          wd.bluetooth, lambda: wd.set_bluetooth(not wd.bluetooth), rid=RID + "bluetooth_switch")
        yield bt
        yield w.nav_row(f, bt.bounds[3], "Device name", "SimPhone", None)

    def _display(self, f: Frame, y: int):
        wd = self.world
        head = w.label(f, (f.dp(24), y + f.dp(8), f.w - f.dp(24), y + f.dp(40)), "Brightness level", size=16)
        yield head
        pct = w.label(f, (f.dp(24), head.bounds[3], f.w - f.dp(24), head.bounds[3] + f.dp(24)),
                      f"{round(wd.brightness * 100 / 255)}%", size=14, color=f.theme.muted, rid="android:id/summary")
        yield pct
        y = pct.bounds[3]

        def set_brightness(v: int) -> None:
            wd.brightness = v
        yield w.slider(f, (f.dp(24), y, f.w - f.dp(24), y + f.dp(48)), wd.brightness, 0, 255, set_brightness,
                       rid=RID + "brightness_slider", desc="Brightness level")
        dark = w.switch_row(f, y + f.dp(56), "Dark theme", "Use a dark background", wd.dark_theme,
                            lambda: setattr(wd, "dark_theme", not wd.dark_theme), rid=RID + "dark_theme_switch")
        yield dark
        yield w.switch_row(f, dark.bounds[3], "Auto-rotate screen", None, wd.auto_rotate,
                           lambda: setattr(wd, "auto_rotate", not wd.auto_rotate), rid=RID + "auto_rotate_switch")

    def _sound(self, f: Frame, y: int):
        wd = self.world
        head = w.label(f, (f.dp(24), y + f.dp(8), f.w - f.dp(24), y + f.dp(40)), "Media volume", size=16)
        yield head

        def set_volume(v: int) -> None:
            wd.volume = v
        yield w.slider(f, (f.dp(24), head.bounds[3], f.w - f.dp(24), head.bounds[3] + f.dp(48)), wd.volume, 0, 15,
                       set_volume, rid=RID + "media_volume_slider", desc="Media volume")

    def _about(self, f: Frame, y: int):
        for title, value in (("Device name", "SimPhone"), ("Model", "SimPhone"), ("Android version", "14"),
                             ("Build number", "UQ1A.240205.004"), ("IP address", "10.0.2.16" if self.world.wifi else
                                                                   "Unavailable")):
            row = w.nav_row(f, y, title, value, None)
            y = row.bounds[3]
            yield row

    def _apps(self, f: Frame, y: int):
        from . import registry
        for app in sorted(registry().values(), key=lambda a: a.label.casefold()):
            row = w.nav_row(f, y, app.label, app.package, None)
            y = row.bounds[3]
            yield row

    def _static(self, f: Frame, y: int):
        yield w.paragraph(f, f.dp(24), y + f.dp(16), f.w - f.dp(48), "Nothing to change here on SimPhone.",
                          color=f.theme.muted)


APP = App("Settings", PACKAGE, SettingsHome, "gear", (95, 99, 104), (".Settings", ".SubSettings"))
