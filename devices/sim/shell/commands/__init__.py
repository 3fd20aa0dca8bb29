"""The shell's command table, from every command module's own `COMMANDS` (the one place that
lists them). A Shell runs this table unless it is given another.

    coreutils.py        builtins and file utilities: echo, test, cat, rm, ls, grep, head, ...
    android_system.py   input, screencap, wm, getprop, svc
    android_apps.py     am, monkey, uiautomator, ime, cmd (and cmd simphone)
    activity_tasks.py   task ids and their dumps: am stack, dumpsys activity (no commands of its own)
    dumpsys.py          dumpsys window, display, input, power, package, SurfaceFlinger, ...
    pm.py               pm and cmd package (the packages' data: phone/packages.py)
    settings.py         settings get, put, list
    net.py              ifconfig, ip
    processes.py        the process table: pkill, pidof
    logcat.py           the log buffer and logcat
    surfaces.py         appops, and the notification, status bar, dialer and installer commands
                        and intents (cmd notification, cmd statusbar, am start -a VIEW/DIAL/CALL)
    screenrecord.py     screenrecord: the screen as a real H.264 MP4 (PyAV), until the limit or a hang-up
"""

from __future__ import annotations

from ..command import Command
from . import (android_apps, android_system, coreutils, dumpsys, logcat, net, pm, processes, screenrecord, settings,
               surfaces)

MODULES = (coreutils, android_system, android_apps, dumpsys, pm, settings, net, processes, logcat, surfaces,
           screenrecord)


def _join(modules) -> dict[str, Command]:
    table: dict[str, Command] = {}
    for module in modules:
        for name, fn in module.COMMANDS.items():
            if name in table:
                raise RuntimeError(f"shell command {name!r} is defined twice ({module.__name__})")
            table[name] = fn
    return table


COMMANDS: dict[str, Command] = _join(MODULES)
