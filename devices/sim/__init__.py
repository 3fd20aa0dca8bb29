"""SimPhone: a simulated Android phone that the real `adb` binary drives over loopback.

    from vlagent.devices.sim import SimPhoneServer, connect_adb
    with SimPhoneServer() as server:       # listens on 127.0.0.1, a free port
        connect_adb(server)                # `adb connect 127.0.0.1:PORT`, waits for `device`
        ...                                # adb -s server.serial shell input tap 540 1200

`SimPhoneServer(animations="real")` gives app launches, Back/Home, dialogs, the shade and flings
Android's default durations (animation.py; docs/simphone.md, "Animations"); the default, "off",
redraws at once.

`Phone` is the phone itself (state, apps, rendering, input) and knows nothing of adb;
`SimPhoneServer` speaks the device side of the ADB transport protocol for it.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_LAZY = {
    "Phone": ".phone",
    "SimPhoneServer": ".server",
    "connect_adb": ".server",
    "disconnect_adb": ".server",
    "serve": ".server",
}

__all__ = ["Phone", "SimPhoneServer", "connect_adb", "disconnect_adb", "serve"]


__getattr__ = lazy_exports(__name__, _LAZY, globals())
