"""SimPhone's ADB transport: the device side of the protocol the real `adb` binary speaks.

    protocol.py   framing, the CNXN/AUTH handshake and the streams (moves bytes, knows no service)
    services.py   which service answers an OPEN: shell (v1 and v2), exec, framebuffer, root/unroot,
                  reconnect; the rest beside it
    sync.py       `sync:` file transfer on the shell's in-memory filesystem
    reverse.py    `reverse:` listeners (`adb reverse`), one table per phone
    server.py     SimPhoneServer: the loopback listener, its connections and the transport faults;
                  connect_adb / disconnect_adb / serve for tests and the CLI

docs/simphone.md lists every service and what a real phone answers.
"""
