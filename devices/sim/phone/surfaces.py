"""A Phone's part: the surfaces issue #18 added, as the phone's services keep them.

Notifications (posted by apps or `cmd notification`, shown in the status bar, the shade and for
HEADS_UP_S seconds as a heads-up), the package installer (a SimPhone APK opened with a VIEW intent,
installed apps), the dialer's call state and the state keys for all of them. The views are in
system_ui.py and the apps' modules; the shell commands in shell/commands/surfaces.py.
"""

from __future__ import annotations

import time
from typing import Any

from ..apps.dialer import PACKAGE as DIALER, DialerMain, InCall, normalise_number
from ..apps.installed import installed_app
from ..apps.installer import PackageInstaller, parse_apk
from . import notifications, system_ui
from .lock import locked
from .packages import package_info
from .ui import Frame, View

_INSTALLED_UID = 10200   # the first uid handed to an app installed from an APK


class Surfaces:
    """A Phone's part: notifications (and the heads-up), the package installer, the dialer's calls."""

    def __init__(self, phone: Any):
        self.phone = phone
        self._lock = phone._lock
        self.files: Any = None   # the device's filesystem (shell/device_state.py), where APKs are read from

    def reset(self) -> None:
        self.heads_up: tuple[str, float] | None = None   # (key, monotonic deadline)
        for entry in self.phone.world.installed:          # none on a fresh World; kept for symmetry
            self.phone.apps_by_package[entry["package"]] = installed_app(entry["package"], entry["label"],
                                                                         entry.get("launcher", True))

    # ------------------------------------------------------------------ notifications

    def uid_of(self, package: str) -> int:
        entry = next((e for e in self.phone.world.installed if e["package"] == package), None)
        return entry["uid"] if entry is not None else package_info(package)[0]

    @locked
    def post_notification(self, package: str, title: str, text: str, *, tag: str | None = None,
                          nid: int | None = None, uri: str | None = None, channel: str = "default") -> dict | None:
        """Post as `package` (None if no such package); it peeks as a heads-up for HEADS_UP_S."""
        if package not in self.phone.packages():
            return None
        n = notifications.post(self.phone.world, package, self.uid_of(package), title, text, time=self.phone.clock(),
                               tag=tag, nid=nid, uri=uri, channel=channel)
        self.heads_up = (n["key"], time.monotonic() + notifications.HEADS_UP_S)
        self.phone.changed()
        return dict(n)

    def live_heads_up(self) -> dict | None:
        tasks = self.phone.tasks
        if self.heads_up is None or tasks.shade or tasks.popup is not None or time.monotonic() >= self.heads_up[1]:
            return None
        return next((n for n in self.phone.world.notifications if n["key"] == self.heads_up[0]), None)

    def heads_up_key(self) -> str | None:
        """Part of the window cache's key: the frame changes when the heads-up times out."""
        n = self.live_heads_up()
        return None if n is None else n["key"]

    def heads_up_window(self, f: Frame) -> View | None:
        n = self.live_heads_up()
        if n is None:
            return None
        return system_ui.heads_up(f, n, system_ui.app_badge(self.phone.apps_by_package, n["package"]),
                                  lambda k=n["key"]: self.tap_notification(k))

    @locked
    def open_notification(self, key: str) -> bool:
        found = any(n["key"] == key for n in self.phone.world.notifications)
        if found:
            self.tap_notification(key)
            self.phone.changed()
        return found

    def tap_notification(self, key: str) -> None:
        """A tap on a notification: its intent is sent from the posting app, the shade closes and
        the notification goes (auto-cancel)."""
        n = notifications.cancel(self.phone.world, key)
        self.phone.tasks.shade = False
        self.heads_up = None
        if n is None:
            return
        if n["uri"]:
            self.view_uri(n["uri"], source=n["package"])
        elif n["package"] in self.phone.apps_by_package:
            self.phone.tasks.bring_to_front(n["package"])

    def clear_notifications(self) -> None:
        self.phone.world.notifications.clear()
        self.phone.tasks.shade = False

    @locked
    def set_shade(self, expanded: bool) -> None:
        """`cmd statusbar expand-notifications` / `collapse`."""
        tasks = self.phone.tasks
        tasks.shade = bool(expanded) and tasks.popup is None
        if tasks.shade:
            tasks.overview = False
        self.phone.changed()

    def view_uri(self, uri: str, source: str | None) -> str | None:
        """A VIEW intent for `uri` sent by `source` (None: the shell, a trusted installer)."""
        scheme = uri.split(":", 1)[0].lower()
        if scheme in ("http", "https"):
            return self.phone.open_url(uri)
        if scheme == "tel":
            self.dial(uri[4:])
            return None
        if scheme == "file" or uri.startswith("/"):
            return self.open_apk(uri.removeprefix("file://"), source=source)
        return f"Error: Activity not started, unable to resolve Intent {{ act=android.intent.action.VIEW dat={uri} }}"

    @locked
    def set_page(self, url: str, text: str, *, title: str = "") -> None:
        """Serve another page at `url` (the reader page keeps its own address)."""
        self.phone.world.pages[url] = {"url": url, "title": title, "text": str(text)}
        self.phone.changed()

    # ------------------------------------------------------------------ package installer

    def read_file(self, path: str) -> bytes | None:
        try:
            return None if self.files is None else self.files.read(path)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return None

    @locked
    def open_apk(self, path: str, *, source: str | None = None) -> str | None:
        """The package installer's confirmation for the APK at `path`, in its own task."""
        data = self.read_file(path)
        apk = parse_apk(data) if data is not None else None
        self.phone.tasks.start_new_task(PackageInstaller.package, lambda host: PackageInstaller(host, apk, source))
        self.phone.changed()
        return None

    def install_allowed(self, source: str | None) -> bool:
        """May `source` install apps? The shell and the system are trusted (they hold
        INSTALL_PACKAGES); an app needs its REQUEST_INSTALL_PACKAGES app-op allowed."""
        return source is None or source in ("android", "com.android.shell") or \
            self.phone.world.install_unknown.get(source) == "allow"

    @locked
    def set_install_source(self, package: str, mode: str) -> None:
        """The REQUEST_INSTALL_PACKAGES app-op of `package` (allow, deny, ...; default forgets it)."""
        if mode == "default":
            self.phone.world.install_unknown.pop(package, None)
        else:
            self.phone.world.install_unknown[package] = mode
        self.phone.changed()

    @locked
    def install_package(self, apk: dict, installer: str | None) -> dict:
        """Install (or update) the APK's package; it is then listed, launchable and can post."""
        w = self.phone.world
        old = next((e for e in w.installed if e["package"] == apk["package"]), None)
        uid = old["uid"] if old else _INSTALLED_UID + len(w.installed)
        launcher = apk.get("launcher", True)
        entry = {"package": apk["package"], "label": apk["label"], "version": apk["version"],
                 "installer": installer or "com.android.shell", "uid": uid, "launcher": launcher}
        w.installed[:] = [e for e in w.installed if e["package"] != apk["package"]] + [entry]
        self.phone.apps_by_package[apk["package"]] = installed_app(apk["package"], apk["label"], launcher)
        self.phone.changed()
        return dict(entry)

    @locked
    def uninstall_package(self, package: str) -> bool:
        """Only apps installed from an APK can go (the rest are part of the system image here)."""
        w = self.phone.world
        if not any(e["package"] == package for e in w.installed):
            return False
        self.phone.tasks.force_stop(package)
        w.installed[:] = [e for e in w.installed if e["package"] != package]
        w.notifications[:] = [n for n in w.notifications if n["package"] != package]
        self.phone.apps_by_package.pop(package, None)
        self.phone.changed()
        return True

    # ------------------------------------------------------------------ dialer

    @locked
    def dial(self, number: str = "") -> None:
        """DIAL: the dialer's keypad with `number` on it (nothing is called yet)."""
        tasks = self.phone.tasks
        tasks.bring_to_front(DIALER)
        top = tasks.top()
        if not isinstance(top, DialerMain):
            tasks.stack = [tasks.launcher, DialerMain(self.phone)]
            top = tasks.top()
        top.fields["digits"] = normalise_number(number)
        self.phone.changed()

    @locked
    def call(self, number: str) -> dict:
        """CALL: an outgoing call starts at once (offhook) and goes in the call log."""
        w = self.phone.world
        number = normalise_number(number)
        name, _ = w.resolve_recipient(number)
        entry = {"id": w.next_id("call"), "number": number, "name": name if name != number else None,
                 "direction": "outgoing", "time": self.phone.clock()}
        w.calls.append(entry)
        w.call = {"state": "offhook", "number": number}
        self.phone.tasks.bring_to_front(DIALER)
        self.phone.tasks.stack.append(InCall(self.phone))
        self.phone.changed()
        return dict(entry)

    @locked
    def end_call(self) -> bool:
        w = self.phone.world
        if w.call["state"] == "idle":
            return False
        w.call = {"state": "idle", "number": None}
        for stack in self.phone.tasks.stacks():
            stack[:] = [a for a in stack if not isinstance(a, InCall)]   # the dialer's root stays
        self.phone.changed()
        return True

    # ------------------------------------------------------------------ state

    def state(self) -> dict:
        w = self.phone.world
        return {
            "location": w.location, "mobile_data": w.mobile_data, "vpn": w.vpn,
            "developer_options": w.developer_options, "usb_debugging": w.usb_debugging,
            "install_unknown_apps": {p: m == "allow" for p, m in sorted(w.install_unknown.items())},
            "notifications": [{k: n[k] for k in ("key", "package", "title", "text", "uri", "time")}
                              for n in w.notifications],
            "heads_up": self.heads_up_key(),
            "call": dict(w.call), "calls": w.calls,
            "installed_packages": [{k: e[k] for k in ("package", "label", "installer")} for e in w.installed],
        }
