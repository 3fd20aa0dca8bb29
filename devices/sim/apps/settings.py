"""Settings: the top-level list and its sub-pages (Network & internet, Connected devices, Display, ...).

Toggles write through `World`, so `settings get global wifi_on` and the quick settings tiles see
the same value. Sub-pages are `.SubSettings` activities, as on Android.

As on Android 14: Network & internet has Mobile data and VPN (connecting shows the VPN dialog's
"Connection request"), Location has "Use location", Apps > Install unknown apps has each source's
"Allow from this source" (the REQUEST_INSTALL_PACKAGES app-op), and Developer options under System
stay hidden until About phone > Build number is tapped 7 times (with a countdown toast).
"""

from __future__ import annotations

from ..phone import ui, widgets as w
from ..phone.text import text_width
from ..phone.ui import Frame, View
from . import App
from .base import Activity

PACKAGE = "com.android.settings"
RID = PACKAGE + ":id/"
_ICON_BG = {"network": (26, 115, 232), "connected": (24, 128, 56), "apps": (227, 116, 0),
            "notifications": (233, 30, 99), "battery": (0, 137, 123), "storage": (161, 66, 244),
            "sound": (57, 73, 171), "display": (227, 116, 0), "security": (24, 128, 56),
            "accessibility": (95, 99, 104), "system": (95, 99, 104), "about": (26, 115, 232),
            "location": (26, 115, 232)}
# Apps whose manifest requests REQUEST_INSTALL_PACKAGES: Settings lists them as unknown-app sources.
UNKNOWN_SOURCES = ("com.android.chrome", "com.google.android.apps.messaging")
TAPS_TO_DEVELOP = 7
VPN_NAME = "SimVPN"
VPN_TEXT = (f"{VPN_NAME} wants to set up a VPN connection that allows it to monitor network traffic. Only accept "
            "if you trust the source. A key icon appears at the top of your screen when VPN is active.")
USB_DEBUGGING_TEXT = ("USB debugging is intended for development purposes only. Use it to copy data between your "
                      "computer and your device, install apps on your device without notification, and read log data.")
UNKNOWN_WARNING = ("Your phone and personal data are more vulnerable to attack by unknown apps. By installing apps "
                   "from this source, you agree that you are responsible for any damage to your phone or loss of "
                   "data that may result from their use.")


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
        ("location", "Location", "On" if world.location else "Off", "globe"),
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
            row = w.nav_row(f, y, title, summary,
                            lambda p=page, t=title: self.host.tasks.push(SubSettings(self.host, p, t)),
                            icon=icon, icon_bg=_ICON_BG[page], rid=RID + "dashboard_tile")
            lst.add(row)
            y = row.bounds[3]
        lst.finish(y + f.dp(16))
        return [lst, bar]


class SubSettings(Activity):
    package = PACKAGE
    name = ".SubSettings"

    def __init__(self, host, page: str, title: str, arg: str | None = None):
        super().__init__(host)
        self.page, self.title, self.arg = page, title, arg   # arg: the app a per-app page is about
        self.taps = 0          # Build number taps on About phone
        self.toast = ""

    def info(self) -> dict:
        return {"page": self.page, "app": self.arg, "toast": self.toast}

    def _open(self, page: str, title: str, arg: str | None = None) -> None:
        self.host.tasks.push(SubSettings(self.host, page, title, arg))

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
        if self.toast:   # Android's Toast: a pill near the bottom, not touchable
            tw = text_width(self.toast, f.dp(14)) + f.dp(32)
            b = ((f.w - tw) // 2, f.bottom - f.dp(96), (f.w + tw) // 2, f.bottom - f.dp(56))
            toast = w.label(f, b, self.toast, size=14, align="center", color=(255, 255, 255), rid="android:id/message")
            return [lst, bar, w.fill(b, (60, 60, 60), radius=f.dp(20)), toast]
        return [lst, bar]

    # -- pages: each yields rows top to bottom starting at y

    def _network(self, f: Frame, y: int):
        wd = self.world
        wifi = w.switch_row(f, y, "Wi-Fi", "Connected to SimNet" if wd.wifi else "Off", wd.wifi,
                            lambda: wd.set_wifi(not wd.wifi), rid=RID + "wifi_switch")
        yield wifi
        data = w.switch_row(f, wifi.bounds[3], "Mobile data", "SimCarrier", wd.mobile_data,
                            lambda: setattr(wd, "mobile_data", not wd.mobile_data), rid=RID + "mobile_data_switch")
        yield data
        plane = w.switch_row(f, data.bounds[3], "Airplane mode", "Turn off radios" if not wd.airplane else "On",
                             wd.airplane, lambda: wd.set_airplane(not wd.airplane), rid=RID + "airplane_switch")
        yield plane
        yield w.nav_row(f, plane.bounds[3], "VPN", f"Connected to {VPN_NAME}" if wd.vpn else "None",
                        lambda: self._open("vpn", "VPN"), rid=RID + "vpn_settings")

    def _vpn(self, f: Frame, y: int):
        wd = self.world

        def toggle() -> None:
            if wd.vpn:
                wd.vpn = False
            else:   # an app's VPN asks first (com.android.vpndialogs' ConfirmDialog)
                self.host.tasks.dialog("Connection request", VPN_TEXT, ["Cancel", "OK"],
                                 lambda b: b == "OK" and setattr(wd, "vpn", True), package="com.android.vpndialogs")
        yield w.switch_row(f, y, VPN_NAME, "Connected" if wd.vpn else "Disconnected", wd.vpn, toggle,
                           rid=RID + "vpn_switch")

    def _location(self, f: Frame, y: int):
        wd = self.world
        yield w.switch_row(f, y, "Use location", None, wd.location, lambda: setattr(wd, "location", not wd.location),
                           rid=RID + "location_switch")

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
            row = w.nav_row(f, y, title, value, self._build_number_tap if title == "Build number" else None,
                            rid=RID + "build_number" if title == "Build number" else "")
            y = row.bounds[3]
            yield row

    def _build_number_tap(self) -> None:
        """The Build number countdown: 7 taps. Android toasts only from the third tap; SimPhone from
        the first, so every tap changes the screen (an agent skips a repeat on an unchanged screen)."""
        wd = self.world
        if wd.developer_options:
            self.toast = "No need, you are already a developer."
            return
        self.taps += 1
        left = TAPS_TO_DEVELOP - self.taps
        if left <= 0:
            wd.developer_options = True
            self.taps, self.toast = 0, "You are now a developer!"
        else:
            self.toast = f"You are now {left} step{'s' if left > 1 else ''} away from being a developer."

    def _system(self, f: Frame, y: int):
        rows = [("Languages", "English (United States)"), ("Gestures", None), ("Date & time", "GMT+00:00")]
        for title, summary in rows:
            row = w.nav_row(f, y, title, summary, None)
            y = row.bounds[3]
            yield row
        if self.world.developer_options:
            yield w.nav_row(f, y, "Developer options", None, lambda: self._open("developer", "Developer options"),
                            rid=RID + "developer_options")

    def _developer(self, f: Frame, y: int):
        wd = self.world

        def usb() -> None:
            if wd.usb_debugging:
                wd.usb_debugging = False
            else:
                self.host.tasks.dialog("Allow USB debugging?", USB_DEBUGGING_TEXT, ["Cancel", "OK"],
                                 lambda b: b == "OK" and setattr(wd, "usb_debugging", True), package=PACKAGE)

        def master() -> None:
            wd.set_developer_options(not wd.developer_options)
            if not wd.developer_options:
                self.finish()    # the page goes with the option, as on Android
        top = w.switch_row(f, y, "Use developer options", None, wd.developer_options, master,
                           rid=RID + "developer_options_switch")
        yield top
        yield w.switch_row(f, top.bounds[3], "USB debugging", "Debug mode when USB is connected", wd.usb_debugging,
                           usb, rid=RID + "usb_debugging_switch")

    def _unknown_sources(self, f: Frame, y: int):
        labels = {pkg: label for label, pkg in self.host.apps().items()}
        for pkg in (*UNKNOWN_SOURCES, *(e["package"] for e in self.world.installed)):
            allowed = self.world.install_unknown.get(pkg) == "allow"
            row = w.nav_row(f, y, labels.get(pkg, pkg), "Allowed" if allowed else "Not allowed",
                            lambda p=pkg: self._open("unknown_source", "Install unknown apps", p))
            y = row.bounds[3]
            yield row

    def _unknown_source(self, f: Frame, y: int):
        wd, pkg = self.world, self.arg
        label = {p: name for name, p in self.host.apps().items()}.get(pkg, pkg)
        head = w.label(f, (f.dp(24), y + f.dp(8), f.w - f.dp(24), y + f.dp(48)), label, size=20,
                       rid="android:id/title")
        yield head

        def toggle() -> None:   # Settings sets MODE_ALLOWED or MODE_ERRORED ("deny")
            wd.install_unknown[pkg] = "deny" if wd.install_unknown.get(pkg) == "allow" else "allow"
        sw = w.switch_row(f, head.bounds[3] + f.dp(8), "Allow from this source", None,
                          wd.install_unknown.get(pkg) == "allow", toggle, rid=RID + "unknown_sources_switch")
        yield sw
        yield w.paragraph(f, f.dp(24), sw.bounds[3] + f.dp(16), f.w - f.dp(48), UNKNOWN_WARNING, size=14,
                          color=f.theme.muted)

    def _apps(self, f: Frame, y: int):
        special = w.nav_row(f, y, "Install unknown apps", "Special app access",
                            lambda: self._open("unknown_sources", "Install unknown apps"),
                            rid=RID + "install_unknown_apps")
        yield special
        y = special.bounds[3]
        for label, package in sorted(self.host.apps().items(), key=lambda a: a[0].casefold()):
            row = w.nav_row(f, y, label, package, None)
            y = row.bounds[3]
            yield row

    def _static(self, f: Frame, y: int):
        yield w.paragraph(f, f.dp(24), y + f.dp(16), f.w - f.dp(48), "Nothing to change here on SimPhone.",
                          color=f.theme.muted)


def unknown_sources_page(host, package: str) -> Activity:
    """The Install unknown apps page for `package` (what the installer's Settings button opens)."""
    return SubSettings(host, "unknown_source", "Install unknown apps", package)


APP = App("Settings", PACKAGE, SettingsHome, "gear", (95, 99, 104), (".Settings", ".SubSettings"))
