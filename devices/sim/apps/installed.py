"""Apps installed from SimPhone APKs (installer.py): one plain screen each, so an installed app is
launchable (`am start`, monkey, the installer's Open button, its launcher icon when its manifest
has a MAIN/LAUNCHER activity) and visibly there, but does nothing."""

from __future__ import annotations

from ..phone import widgets as w
from ..phone.ui import Frame, View
from . import App
from .base import Activity


class InstalledMain(Activity):
    name = ".Main"    # what activity_tasks names a task whose app is not in the registry
    label = ""

    def build(self, f: Frame) -> list[View]:
        bar = w.app_bar(f, self.label)
        text = w.paragraph(f, f.dp(24), bar.bounds[3] + f.dp(24), f.w - f.dp(48),
                           f"{self.label} is installed. There is nothing else to see here.", color=f.theme.muted)
        return [bar, text]


def installed_app(package: str, label: str, launcher: bool = True) -> App:
    # A class per package: App.root.name and Activity.package are read from the class.
    root = type("InstalledMain", (InstalledMain,), {"package": package, "label": label})
    return App(label, package, root, "apps", (0, 137, 123), (".Main",), launcher)
