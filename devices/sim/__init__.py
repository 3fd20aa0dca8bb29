"""SimPhone: a simulated Android phone that the real `adb` binary drives over loopback.

    from vlagent.devices.sim import SimPhoneServer, connect_adb
    with SimPhoneServer() as server:       # listens on 127.0.0.1, a free port
        connect_adb(server)                # `adb connect 127.0.0.1:PORT`, waits for `device`
        ...                                # adb -s server.serial shell input tap 540 1200

`SimPhoneServer(animations="real")` gives app launches, Back/Home, dialogs, the shade and flings
Android's default durations (phone/animation.py; docs/simphone.md, "Animations"); the default,
"off", redraws at once.

Its rooms follow its layers: the transport runs the shell, the shell drives the phone, the phone
runs the apps.

    adb/      the ADB transport: the wire protocol, the services, the server (SimPhoneServer)
    shell/    /system/bin/sh: the parser, the interpreter, the commands, the filesystem
    phone/    the phone itself (Phone: state, activities, input, system UI, the view toolkit and
              drawing), which knows nothing of adb or the shell
    apps/     the apps the phone runs, built with phone/'s view toolkit

Each room's __init__ lists its modules.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_LAZY = {
    "Phone": ".phone.phone",
    "SimPhoneServer": ".adb.server",
    "connect_adb": ".adb.server",
    "disconnect_adb": ".adb.server",
    "serve": ".adb.server",
}

__all__ = ["Phone", "SimPhoneServer", "connect_adb", "disconnect_adb", "serve"]


__getattr__ = lazy_exports(__name__, _LAZY, globals())
