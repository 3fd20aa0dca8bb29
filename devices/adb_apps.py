"""Which installed package an OpenApp name means: a package, a launcher label ("Settings",
"Chrome") or the last part of a package name ("YouTube"). A name that matches nothing, or
several things, is refused with the close matches, so the model can ask again precisely.
"""

from __future__ import annotations

import difflib
import re

from ..errors import ToolArgumentsError

# Launcher labels to packages, for OpenApp by name; the first installed candidate wins.
COMMON_APPS: dict[str, tuple[str, ...]] = {
    "settings": ("com.android.settings",),
    "browser": ("com.android.chrome", "org.mozilla.firefox", "com.android.browser", "com.sec.android.app.sbrowser"),
    "chrome": ("com.android.chrome",),
    "firefox": ("org.mozilla.firefox",),
    "contacts": ("com.android.contacts", "com.google.android.contacts", "com.samsung.android.app.contacts"),
    "phone": ("com.google.android.dialer", "com.android.dialer", "com.samsung.android.dialer"),
    "dialer": ("com.google.android.dialer", "com.android.dialer"),
    "messages": ("com.google.android.apps.messaging", "com.android.mms", "com.samsung.android.messaging"),
    "sms": ("com.google.android.apps.messaging", "com.android.mms"),
    "clock": ("com.google.android.deskclock", "com.android.deskclock", "com.sec.android.app.clockpackage"),
    "alarm": ("com.google.android.deskclock", "com.android.deskclock"),
    "calculator": ("com.google.android.calculator", "com.android.calculator2", "com.sec.android.app.popupcalculator"),
    "notes": ("com.simphone.notes", "com.google.android.keep", "com.samsung.android.app.notes"),
    "keep": ("com.google.android.keep",),
    "keep notes": ("com.google.android.keep",),
    "camera": ("com.google.android.GoogleCamera", "com.android.camera2", "com.android.camera", "com.sec.android.app.camera"),
    "photos": ("com.google.android.apps.photos",),
    "gallery": ("com.google.android.apps.photos", "com.android.gallery3d", "com.sec.android.gallery3d"),
    "calendar": ("com.google.android.calendar", "com.android.calendar", "com.samsung.android.calendar"),
    "gmail": ("com.google.android.gm",),
    "email": ("com.google.android.gm", "com.android.email"),
    "maps": ("com.google.android.apps.maps",),
    "google maps": ("com.google.android.apps.maps",),
    "youtube": ("com.google.android.youtube",),
    "play store": ("com.android.vending",),
    "google play": ("com.android.vending",),
    "files": ("com.google.android.apps.nbu.files", "com.android.documentsui", "com.sec.android.app.myfiles"),
    "google": ("com.google.android.googlequicksearchbox",),
    "whatsapp": ("com.whatsapp",),
    "telegram": ("org.telegram.messenger",),
    "wechat": ("com.tencent.mm",),
    "home": ("com.android.launcher3", "com.google.android.apps.nexuslauncher"),
    "launcher": ("com.android.launcher3", "com.google.android.apps.nexuslauncher"),
}


def match_app(name: str, packages: list[str]) -> str:
    """The package among the installed `packages` that `name` stands for."""
    if name in packages:
        return name
    key = re.sub(r"\s+", " ", name.lower())
    for candidate in COMMON_APPS.get(key, ()):
        if candidate in packages:
            return candidate
    # A label that names the package's last part: "YouTube" -> com.google.android.youtube.
    squashed = key.replace(" ", "")
    hits = [p for p in packages if p.lower().rsplit(".", 1)[-1].rstrip("0123456789") == squashed]
    if len(hits) == 1:
        return hits[0]
    labels = sorted(COMMON_APPS) + packages
    close = difflib.get_close_matches(key, labels, n=5, cutoff=0.5)
    close += [p for p in packages if squashed and squashed in p.lower() and p not in close][:5]
    hint = f"; close matches: {', '.join(close[:8])}" if close else ""
    if len(hits) > 1:
        hint = f"; it could be any of {', '.join(hits)}: give the package name"
    raise ToolArgumentsError(f"no app named {name!r} is installed{hint}")
