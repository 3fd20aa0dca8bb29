"""Part of `Phone`: the surfaces issue #18 added, as the phone's services keep them.

Notifications (posted by apps or `cmd notification`, shown in the status bar, the shade and for
HEADS_UP_S seconds as a heads-up), the package installer (a SimPhone APK opened with a VIEW intent,
installed apps), the dialer's call state and the state keys for all of them. The views are in
system_ui.py and the apps' modules; the shell commands in surface_cmds.py.
"""

from __future__ import annotations

import time
from typing import Any

from . import notifications, system_ui
from .apps.dialer import PACKAGE as DIALER, DialerMain, InCall, normalise_number
from .apps.installed import installed_app
from .apps.installer import PackageInstaller, parse_apk
from .input import locked
from .packages import package_info
from .ui import Frame, View

_INSTALLED_UID = 10200   # the first uid handed to an app installed from an APK


class SurfacesMixin:
    def _reset_surfaces(self) -> None:
        self._heads_up: tuple[str, float] | None = None   # (key, monotonic deadline)
        for entry in self.world.installed:                # none on a fresh World; kept for symmetry
            self._apps[entry["package"]] = installed_app(entry["package"], entry["label"])

    def attach_files(self, fs: Any) -> None:
        """The device's filesystem (device_state.py), where the installer reads APKs from."""
        self._files = fs

    # ------------------------------------------------------------------ notifications

    def uid_of(self, package: str) -> int:
        entry = next((e for e in self.world.installed if e["package"] == package), None)
        return entry["uid"] if entry is not None else package_info(package)[0]

    @locked
    def post_notification(self, package: str, title: str, text: str, *, tag: str | None = None,
                          nid: int | None = None, uri: str | None = None, channel: str = "default") -> dict | None:
        """Post as `package` (None if no such package); it peeks as a heads-up for HEADS_UP_S."""
        if package not in self.packages():
            return None
        n = notifications.post(self.world, package, self.uid_of(package), title, text, time=self.clock(), tag=tag,
                               nid=nid, uri=uri, channel=channel)
        self._heads_up = (n["key"], time.monotonic() + notifications.HEADS_UP_S)
        self._changed()
        return dict(n)

    def _live_heads_up(self) -> dict | None:
        if self._heads_up is None or self._shade or self._popup is not None or time.monotonic() >= self._heads_up[1]:
            return None
        return next((n for n in self.world.notifications if n["key"] == self._heads_up[0]), None)

    def _heads_up_key(self) -> str | None:
        """Part of the window cache's key: the frame changes when the heads-up times out."""
        n = self._live_heads_up()
        return None if n is None else n["key"]

    def _heads_up_window(self, f: Frame) -> View | None:
        n = self._live_heads_up()
        if n is None:
            return None
        return system_ui.heads_up(f, n, system_ui.app_badge(self._apps, n["package"]),
                                  lambda k=n["key"]: self._open_notification(k))

    @locked
    def open_notification(self, key: str) -> bool:
        found = any(n["key"] == key for n in self.world.notifications)
        if found:
            self._open_notification(key)
            self._changed()
        return found

    def _open_notification(self, key: str) -> None:
        """A tap on a notification: its intent is sent from the posting app, the shade closes and
        the notification goes (auto-cancel)."""
        n = notifications.cancel(self.world, key)
        self._shade = False
        self._heads_up = None
        if n is None:
            return
        if n["uri"]:
            self._view_uri(n["uri"], source=n["package"])
        elif n["package"] in self._apps:
            self._bring_to_front(n["package"])

    def _clear_notifications(self) -> None:
        self.world.notifications.clear()
        self._shade = False

    @locked
    def set_shade(self, expanded: bool) -> None:
        """`cmd statusbar expand-notifications` / `collapse`."""
        self._shade = bool(expanded) and self._popup is None
        if self._shade:
            self._overview = False
        self._changed()

    def _view_uri(self, uri: str, source: str | None) -> str | None:
        """A VIEW intent for `uri` sent by `source` (None: the shell, a trusted installer)."""
        scheme = uri.split(":", 1)[0].lower()
        if scheme in ("http", "https"):
            return self.open_url(uri)
        if scheme == "tel":
            self.dial(uri[4:])
            return None
        if scheme == "file" or uri.startswith("/"):
            return self.open_apk(uri.removeprefix("file://"), source=source)
        return f"Error: Activity not started, unable to resolve Intent {{ act=android.intent.action.VIEW dat={uri} }}"

    @locked
    def set_page(self, url: str, text: str, *, title: str = "") -> None:
        """Serve another page at `url` (the reader page keeps its own address)."""
        self.world.pages[url] = {"url": url, "title": title, "text": str(text)}
        self._changed()

    # ------------------------------------------------------------------ package installer

    def read_file(self, path: str) -> bytes | None:
        fs = getattr(self, "_files", None)
        try:
            return None if fs is None else fs.read(path)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return None

    @locked
    def open_apk(self, path: str, *, source: str | None = None) -> str | None:
        """The package installer's confirmation for the APK at `path`, in its own task."""
        data = self.read_file(path)
        apk = parse_apk(data) if data is not None else None
        self._bring_to_front_new(PackageInstaller.package, lambda host: PackageInstaller(host, apk, source))
        self._changed()
        return None

    def _bring_to_front_new(self, package: str, factory) -> None:
        # The installer is not a launcher app: each VIEW intent starts a fresh task for it.
        self._tasks.pop(package, None)
        if len(self._stack) > 1 and self._stack[1].package == package:
            self._stack = [self._launcher]
        self._shade = self._overview = False
        self._to_background()
        self._stack = [self._launcher, factory(self)]

    def install_allowed(self, source: str | None) -> bool:
        """May `source` install apps? The shell and the system are trusted (they hold
        INSTALL_PACKAGES); an app needs its REQUEST_INSTALL_PACKAGES app-op allowed."""
        return source is None or source in ("android", "com.android.shell") or \
            self.world.install_unknown.get(source) == "allow"

    @locked
    def set_install_source(self, package: str, mode: str) -> None:
        """The REQUEST_INSTALL_PACKAGES app-op of `package` (allow, deny, ...; default forgets it)."""
        if mode == "default":
            self.world.install_unknown.pop(package, None)
        else:
            self.world.install_unknown[package] = mode
        self._changed()

    @locked
    def install_package(self, apk: dict, installer: str | None) -> dict:
        """Install (or update) the APK's package; it is then listed, launchable and can post."""
        w = self.world
        old = next((e for e in w.installed if e["package"] == apk["package"]), None)
        uid = old["uid"] if old else _INSTALLED_UID + len(w.installed)
        entry = {"package": apk["package"], "label": apk["label"], "version": apk["version"],
                 "installer": installer or "com.android.shell", "uid": uid}
        w.installed[:] = [e for e in w.installed if e["package"] != apk["package"]] + [entry]
        self._apps[apk["package"]] = installed_app(apk["package"], apk["label"])
        self._changed()
        return dict(entry)

    @locked
    def uninstall_package(self, package: str) -> bool:
        """Only apps installed from an APK can go (the rest are part of the system image here)."""
        if not any(e["package"] == package for e in self.world.installed):
            return False
        self.force_stop(package)
        self.world.installed[:] = [e for e in self.world.installed if e["package"] != package]
        self.world.notifications[:] = [n for n in self.world.notifications if n["package"] != package]
        self._apps.pop(package, None)
        self._changed()
        return True

    # ------------------------------------------------------------------ dialer

    @locked
    def dial(self, number: str = "") -> None:
        """DIAL: the dialer's keypad with `number` on it (nothing is called yet)."""
        self._bring_to_front(DIALER)
        top = self._top()
        if not isinstance(top, DialerMain):
            self._stack = [self._launcher, DialerMain(self)]
            top = self._top()
        top.fields["digits"] = normalise_number(number)
        self._changed()

    @locked
    def call(self, number: str) -> dict:
        """CALL: an outgoing call starts at once (offhook) and goes in the call log."""
        w = self.world
        number = normalise_number(number)
        name, _ = w.resolve_recipient(number)
        entry = {"id": w.next_id("call"), "number": number, "name": name if name != number else None,
                 "direction": "outgoing", "time": self.clock()}
        w.calls.append(entry)
        w.call = {"state": "offhook", "number": number}
        self._bring_to_front(DIALER)
        self._stack.append(InCall(self))
        self._changed()
        return dict(entry)

    @locked
    def end_call(self) -> bool:
        w = self.world
        if w.call["state"] == "idle":
            return False
        w.call = {"state": "idle", "number": None}
        for stack in (self._stack, *self._tasks.values()):
            stack[:] = [a for a in stack if not isinstance(a, InCall)]   # the dialer's root stays
        self._changed()
        return True

    # ------------------------------------------------------------------ state

    def surface_state(self) -> dict:
        w = self.world
        return {
            "location": w.location, "mobile_data": w.mobile_data, "vpn": w.vpn,
            "developer_options": w.developer_options, "usb_debugging": w.usb_debugging,
            "install_unknown_apps": {p: m == "allow" for p, m in sorted(w.install_unknown.items())},
            "notifications": [{k: n[k] for k in ("key", "package", "title", "text", "uri", "time")}
                              for n in w.notifications],
            "heads_up": self._heads_up_key(),
            "call": dict(w.call), "calls": w.calls,
            "installed_packages": [{k: e[k] for k in ("package", "label", "installer")} for e in w.installed],
        }
