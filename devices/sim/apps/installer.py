"""The package installer (PackageInstallerActivity's dialogs) and what a SimPhone APK is.

SimPhone runs no Android code, so its APKs are small: either a text file whose first line is
`SimPhone APK`, then `key=value` lines: `package=` (required, a Java-style package name),
`label=` (the app's name, default the package), `versionName=` (default 1.0); or a zip (what
`adb install` is usually given) holding an AndroidManifest.xml in plain-text XML:
`<manifest package=... android:versionName=...><application android:label=...>` with an
`<activity>` whose intent filter has MAIN and LAUNCHER for a launcher icon (a text APK always
has one). Anything else is not an APK (the installer's parse error; `pm install` says
INSTALL_PARSE_FAILED_NOT_APK).

Opening one (a VIEW intent, `am start -d file://PATH -t application/vnd.android.package-archive`,
or tapping a notification that carries such a URI) starts the installer's task. When the
source is an app whose "Install unknown apps" access is off, the installer first shows Android's
"For your security..." block, whose Settings button opens that app's Install unknown apps page;
back from it, the install confirmation shows once access is allowed. The shell is a trusted
source, as on Android (it holds INSTALL_PACKAGES).
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile

from ..phone import system_ui, ui
from ..phone.ui import Frame, View
from .base import Activity

PACKAGE = "com.android.packageinstaller"
APK_MAGIC = "SimPhone APK"
APK_MIME = "application/vnd.android.package-archive"
_PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")

BLOCKED_TEXT = ("For your security, your phone currently isn't allowed to install unknown apps from this source. "
                "You can change this in Settings.")


_ANDROID = "{http://schemas.android.com/apk/res/android}"


def is_zip(data: bytes) -> bool:
    return zipfile.is_zipfile(io.BytesIO(data))


def _parse_zip(data: bytes) -> dict | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            manifest = ET.fromstring(z.read("AndroidManifest.xml"))
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError, ValueError):
        return None
    package = manifest.get("package", "").strip()
    if manifest.tag != "manifest" or not _PACKAGE_NAME.fullmatch(package):
        return None
    application = manifest.find("application")
    label = (application.get(_ANDROID + "label", "") if application is not None else "").strip()
    launcher = any({a.get(_ANDROID + "name") for a in f.iter("action")} >= {"android.intent.action.MAIN"} and
                   "android.intent.category.LAUNCHER" in {c.get(_ANDROID + "name") for c in f.iter("category")}
                   for f in manifest.iter("intent-filter"))
    return {"package": package, "label": label or package,
            "version": manifest.get(_ANDROID + "versionName", "").strip() or "1.0", "launcher": launcher}


def parse_apk(data: bytes) -> dict | None:
    """{package, label, version, launcher} from a SimPhone APK's bytes, or None when it is not one."""
    if is_zip(data):
        return _parse_zip(data)
    lines = data.decode("utf-8", "replace").splitlines()
    if not lines or lines[0].strip() != APK_MAGIC:
        return None
    fields = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    package = fields.get("package", "").strip()
    if not _PACKAGE_NAME.fullmatch(package):
        return None
    return {"package": package, "label": fields.get("label", "").strip() or package,
            "version": fields.get("versionName", "").strip() or "1.0", "launcher": True}


class PackageInstaller(Activity):
    package = PACKAGE
    name = ".PackageInstallerActivity"

    def __init__(self, host, apk: dict | None, source: str | None):
        super().__init__(host)
        self.apk, self.source = apk, source
        self.done = False

    def step(self) -> str:
        """parse_error, blocked (unknown source), confirm or installed; derived from the phone's
        state, so coming back from Settings with access allowed shows the confirmation."""
        if self.apk is None:
            return "parse_error"
        if self.done:
            return "installed"
        return "confirm" if self.host.surfaces.install_allowed(self.source) else "blocked"

    def info(self) -> dict:
        return {"installer": {"step": self.step(), "package": self.apk and self.apk["package"],
                              "source": self.source}}

    def on_back(self) -> bool:
        return False   # BACK cancels: the activity finishes

    def _answer(self, button: str) -> None:
        step = self.step()
        if step == "blocked" and button == "Settings":
            from .settings import unknown_sources_page
            self.host.tasks.push(unknown_sources_page(self.host, self.source))
        elif step == "confirm" and button == "Install":
            self.host.surfaces.install_package(self.apk, self.source)
            self.done = True
        elif step == "installed" and button == "Open":
            self.finish()
            self.host.start(self.apk["package"])
        else:
            self.finish()

    def build(self, f: Frame) -> list[View]:
        step = self.step()
        if step == "parse_error":
            title, text, buttons = "Parse error", "There was a problem parsing the package.", ["OK"]
        elif step == "blocked":
            label = {pkg: name for name, pkg in self.host.apps().items()}.get(self.source, self.source)
            title, text, buttons = label, BLOCKED_TEXT, ["Cancel", "Settings"]
        elif step == "confirm":
            title, text, buttons = self.apk["label"], "Do you want to install this app?", ["Cancel", "Install"]
        else:
            title, text, buttons = self.apk["label"], "App installed.", ["Done", "Open"]
        back = View((0, 0, f.w, f.h), in_xml=False, paint=lambda c, v: c.rect(v.bounds, fill=f.theme.surface2))
        card = system_ui.dialog(f, title, text, buttons, self._answer, PACKAGE)
        card.cls, card.rid = ui.FRAME, "android:id/content"
        return [back, card]
