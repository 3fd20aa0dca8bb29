"""`reverse:` on the device side (adbd's reverse_service, which runs adb.cpp's
handle_forward_request and adb_listeners.cpp): `adb reverse` asks the phone to listen on a socket
of its own and carry each connection back to the host.

The phone's listener table is one per phone, as adbd's is: an entry belongs to the transport
that made it and goes when that transport does; rebinding a local name moves it to the new
transport. The answers are a device's: one OKAY where the adb server adds its own in front
(then, for a new TCP listener, its port as a length-prefixed string: the one asked for, or the
one picked for `tcp:0`), `FAIL` + length + message,
and for list-forward the listing alone (`<transport> <local> <remote>\\n` per entry, where a TCP
transport is named `host-<fd>`).

What is simulated: the table and its answers. Nothing on a SimPhone connects to a reversed
port, so no socket is opened (one is bound and released only to pick the port for `tcp:0`).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Any

from .protocol import Stream

_LOCAL_KINDS = ("localabstract:", "localreserved:", "localfilesystem:")
_FIRST_UNPRIVILEGED_PORT = 1024  # adbd runs as `shell`, which may not bind below it


@dataclass
class _Listener:
    local: str
    remote: str
    transport: Any  # the Connection that asked for it


class ReverseListeners:
    """The phone's reverse listeners (adbd's listener_list without the smart sockets)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[_Listener] = []

    def drop_transport(self, transport: Any) -> None:
        """A transport went away: its listeners go with it (adbd's listener_disconnect)."""
        with self._lock:
            self._items = [item for item in self._items if item.transport is not transport]

    def listing(self) -> str:
        with self._lock:
            return "".join(f"{item.transport.name} {item.local} {item.remote}\n" for item in self._items)

    def serve(self, stream: Stream, command: str) -> None:
        """Answer one `reverse:COMMAND` on `stream`."""
        if command == "list-forward":
            stream.write(_protocol_string(self.listing()))
        elif command == "killforward-all":
            with self._lock:  # every transport's, as adbd's remove_all_listeners
                self._items.clear()
            stream.write(b"OKAY")
        elif command.startswith("killforward:"):
            local = command[len("killforward:"):]
            if not local or ";" in local:
                stream.write(_fail(f"bad killforward: {local}"))
            elif self._remove(local):
                stream.write(b"OKAY")
            else:
                stream.write(_fail(f"listener '{local}' not found"))
        elif command.startswith("forward:"):
            stream.write(self._install(command[len("forward:"):], stream.conn))
        else:
            stream.write(_fail("not a reverse forwarding command"))

    def _remove(self, local: str) -> bool:
        with self._lock:
            for item in self._items:
                if item.local == local:
                    self._items.remove(item)
                    return True
        return False

    def _install(self, spec: str, transport: Any) -> bytes:
        no_rebind = spec.startswith("norebind:")
        if no_rebind:
            spec = spec[len("norebind:"):]
        pieces = spec.split(";")
        if len(pieces) != 2 or not pieces[0] or not pieces[1] or pieces[1].startswith("*"):
            return _fail(f"bad forward: {spec}")
        local, remote = pieces
        with self._lock:
            for item in self._items:
                if item.local == local:
                    if no_rebind:
                        return _fail("cannot rebind existing socket")
                    item.remote, item.transport = remote, transport
                    return b"OKAY"
            error, port = _bind_check(local)
            if error:
                return _fail(f"cannot bind listener: {error}")
            if port is None:
                self._items.append(_Listener(local, remote, transport))
                return b"OKAY"
            # A new TCP listener is named by the port it got, which is sent back (not only for
            # tcp:0: adbd reports every port it resolved).
            self._items.append(_Listener(f"tcp:{port}", remote, transport))
        return b"OKAY" + _protocol_string(str(port))


def _bind_check(local: str) -> tuple[str, int | None]:
    """What binding `local` on the phone would give: (error, None) or ("", tcp port or None)."""
    if local.startswith("tcp:"):
        text = local[4:]
        if not text:
            return "string after tcp specification is empty", None
        try:
            port = int(text)
        except ValueError:
            return "listening on specified hostname currently unsupported", None
        if not 0 <= port <= 65535:
            return f"bad port number '{port}'", None
        if 0 < port < _FIRST_UNPRIVILEGED_PORT:
            return "Permission denied", None
        if port == 0:
            with socket.socket() as s:  # the kernel's pick, as the phone's kernel would pick one
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        return "", port
    if local.startswith(_LOCAL_KINDS) and local.partition(":")[2]:
        return "", None
    return f"unknown socket specification:{local}", None


def _protocol_string(text: str) -> bytes:
    """adb's length-prefixed string: four hex digits, then the bytes."""
    raw = text.encode()
    return b"%04x" % len(raw) + raw


def _fail(message: str) -> bytes:
    return b"FAIL" + _protocol_string(message)
