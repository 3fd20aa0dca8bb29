"""The device side of the ADB transport protocol (AOSP `protocol.txt`): framing, the handshake
with its AUTH step, and the streams that carry services, following adbd (adb.cpp, sockets.cpp,
transport.cpp) wherever a client could tell the difference.

- messages: a 24-byte little-endian header (command, arg0, arg1, payload length, payload
  checksum, command ^ 0xffffffff) and the payload. CNXN negotiates the version and the largest
  payload: min(peer's, ours) for both, and our CNXN carries the negotiated payload size, as
  adbd's does. A peer below 0x01000001 (adb-shell says 0x01000000) verifies checksums, so we fill
  them in for it. A packet longer than the negotiated size drops the connection (check_header).
- streams: OPEN(their-id, 0, "service\\0") is answered OKAY(our-id, their-id) or, for a service
  we do not offer, CLSE(0, their-id); an OPEN asking for delayed acks (arg1 != 0), which we do
  not advertise, is refused the same way. Flow control is one OKAY per WRTE in both directions:
  we send the next WRTE only after the last one's OKAY, and we acknowledge each WRTE once its
  data is in the service's buffer (held back while the service has a backlog, as adbd holds it
  back while the service's socket is full). CLSE from the peer is answered with CLSE at once
  (adbd's local_socket_close shuts the remote side, which sends CLSE) — clients such as
  adb-shell wait for that echo after every sync transaction; an OKAY for a stream we no longer
  know is answered with CLSE too.
- AUTH, when the host demands it: we send a TOKEN and never accept a signature, so the adb
  server offers its public key and lists the device as `unauthorized` until the fault is
  cleared (as if someone accepted the prompt), when we send CNXN.

One thread reads each connection, one runs each stream's service. What a service does is the
host's business (`TransportHost`, the SimPhoneServer); this module only moves bytes.
"""

from __future__ import annotations

import logging
import secrets
import socket
import struct
import threading
import time
from collections import deque
from typing import Any, Callable, Protocol

log = logging.getLogger("vlagent.sim")

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_AUTH = 0x48545541
A_STLS = 0x534C5453
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3

VERSION = 0x01000001  # "skip checksum" version, Android 9 and later
VERSION_MIN = 0x01000000
MAX_PAYLOAD = 1024 * 1024
MAX_PAYLOAD_V1 = 4 * 1024  # the pre-Android-N payload size: our fallback for a CNXN that says 0
# Unread bytes a stream may hold before we stop acknowledging its WRTEs: adbd's equivalent is
# the service socket's buffer filling up. Big enough that a sync push never waits on it.
INBOX_HIGH_WATER = 2 * MAX_PAYLOAD
FEATURES = ("shell_v2", "cmd", "fixed_push_mkdir")

_HEADER = struct.Struct("<6I")
_NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_OPEN: "OPEN", A_OKAY: "OKAY", A_CLSE: "CLSE",
          A_WRTE: "WRTE", A_AUTH: "AUTH", A_STLS: "STLS"}


class TransportHost(Protocol):
    """What a Connection needs from the phone it serves."""

    phone: Any  # its properties make the CNXN banner
    auth_required: bool  # answer CNXN with AUTH, never accept a signature
    offline: bool  # leave OPENs unanswered, as a phone that stopped responding
    opened: deque[str]  # every service opened, newest last

    def handler_for(self, service: str) -> Callable[["Stream"], None] | None:
        """The function that serves `service` on a stream, or None when it is not offered."""

    def stream_finished(self) -> None:
        """Called after each stream's service returned (and its CLSE is out)."""

    def connection_closed(self, conn: "Connection") -> None:
        """Called once when a connection is gone."""


class StreamClosed(Exception):
    """The stream or its connection went away."""


class Stream:
    """One service stream: bytes in from WRTEs, bytes out as WRTEs with OKAY flow control."""

    def __init__(self, conn: "Connection", local_id: int, remote_id: int):
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self._cond = threading.Condition()
        self._inbox = bytearray()
        self._ack_owed = False  # a WRTE's OKAY held back until the service drains its backlog
        self._ready = True  # we may send one WRTE until its OKAY comes back
        self._peer_closed = False
        self._clse_sent = False  # exactly one CLSE per stream, whichever side ends it
        self._closed = False

    # called by the connection's reader thread
    def on_data(self, data: bytes) -> None:
        with self._cond:
            self._inbox += data
            self._ack_owed = len(self._inbox) > INBOX_HIGH_WATER
            owed = self._ack_owed
            self._cond.notify_all()
        if not owed:
            self.conn.send(A_OKAY, self.local_id, self.remote_id)

    def on_okay(self) -> None:
        with self._cond:
            self._ready = True
            self._cond.notify_all()

    def on_close(self) -> bool:
        """The peer closed (or the connection died). True when our CLSE is still to be sent."""
        with self._cond:
            self._peer_closed = True
            owed, self._clse_sent = not self._clse_sent, True
            self._cond.notify_all()
        return owed

    # called by the service thread
    @property
    def peer_closed(self) -> bool:
        return self._peer_closed or self.conn.dead

    def wait_closed(self, timeout: float) -> bool:
        """Block up to `timeout` s until the peer closes the stream (or the connection dies);
        True if it has. A long-running service (logcat, screenrecord) polls this as adbd's
        child polls for its SIGHUP."""
        with self._cond:
            if not self.peer_closed:
                self._cond.wait(max(0.0, timeout))
            return self.peer_closed

    def read_exact(self, n: int) -> bytes:
        with self._cond:
            while len(self._inbox) < n:
                if self._peer_closed or self.conn.dead:
                    raise StreamClosed()
                self._cond.wait(1.0)
            data = bytes(self._inbox[:n])
            del self._inbox[:n]
            release = self._ack_owed and len(self._inbox) <= INBOX_HIGH_WATER and not self._peer_closed
            if release:
                self._ack_owed = False
        if release:
            self.conn.send(A_OKAY, self.local_id, self.remote_id)
        return data

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        step = self.conn.max_payload
        for start in range(0, len(view), step):
            with self._cond:
                while not self._ready:
                    if self._peer_closed or self.conn.dead:
                        raise StreamClosed()
                    self._cond.wait(1.0)
                if self._peer_closed or self.conn.dead:
                    raise StreamClosed()
                self._ready = False
            self.conn.send(A_WRTE, self.local_id, self.remote_id, view[start:start + step])

    def close(self) -> None:
        """The service is done: CLSE to the peer, unless the peer closed first (its CLSE was
        answered when it came)."""
        if self._closed:
            return
        self._closed = True
        # Wait for the last WRTE's OKAY so its data is not overtaken by our CLSE's teardown.
        with self._cond:
            deadline = time.monotonic() + 5
            while not self._ready and not self._peer_closed and not self.conn.dead:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    break
            owed, self._clse_sent = not self._clse_sent, True
        if owed:
            self.conn.send(A_CLSE, self.local_id, self.remote_id)
        self.conn.forget(self)


class Connection:
    """One TCP connection from an adb server: the handshake, the packet loop, the streams."""

    def __init__(self, server: TransportHost, sock: socket.socket):
        self.server = server
        self.sock = sock
        self.dead = False
        self.online = False
        # adbd names a TCP transport after its socket's fd; `adb reverse --list` shows it.
        self.name = f"host-{sock.fileno()}"
        self.max_payload = MAX_PAYLOAD  # until CNXN negotiates it (transport.cpp's initial value)
        self.peer_version = VERSION_MIN
        self._send_lock = threading.Lock()
        self._streams: dict[int, Stream] = {}
        self._streams_lock = threading.Lock()
        self._next_id = 1
        self._auth_wait = False

    # -- wire
    def send(self, command: int, arg0: int, arg1: int, data: bytes | memoryview = b"") -> None:
        checksum = sum(data) & 0xFFFFFFFF if self.peer_version < VERSION and data else 0
        header = _HEADER.pack(command, arg0, arg1, len(data), checksum, command ^ 0xFFFFFFFF)
        try:
            with self._send_lock:
                self.sock.sendall(header + bytes(data) if len(data) < 65536 else header)
                if len(data) >= 65536:
                    self.sock.sendall(data)
        except OSError:
            self.kill()
            raise StreamClosed() from None

    def _recv_exact(self, reader, n: int) -> bytes:
        data = reader.read(n) if n else b""
        if len(data) < n:
            raise StreamClosed()
        return data

    def kill(self) -> None:
        if self.dead:
            return
        self.dead = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self._streams_lock:
            streams = list(self._streams.values())
            self._streams.clear()
        for s in streams:
            s.on_close()
        self.server.connection_closed(self)

    def forget(self, stream: Stream) -> None:
        with self._streams_lock:
            self._streams.pop(stream.local_id, None)

    # -- lifecycle
    def run(self) -> None:
        reader = self.sock.makefile("rb", buffering=256 * 1024)
        try:
            while not self.dead:
                command, arg0, arg1, length, _checksum, magic = _HEADER.unpack(self._recv_exact(reader, 24))
                if magic != command ^ 0xFFFFFFFF:
                    log.warning("bad magic from adb server; dropping the connection")
                    break
                if length > self.max_payload:
                    log.warning("oversized packet (%d bytes) from adb client; dropping the connection", length)
                    break
                data = self._recv_exact(reader, length)
                self._handle(command, arg0, arg1, data)
        except (StreamClosed, OSError, ValueError):
            pass
        finally:
            self.kill()

    def _banner(self) -> bytes:
        phone = self.server.phone
        props = {k: phone.getprop(k) or "simphone" for k in ("ro.product.name", "ro.product.model", "ro.product.device")}
        text = "device::" + "".join(f"{k}={v};" for k, v in props.items()) + "features=" + ",".join(FEATURES)
        return text.encode()

    def accept_auth(self) -> None:
        if self._auth_wait and not self.dead:
            self._auth_wait = False
            self._go_online()

    def _go_online(self) -> None:
        self.online = True
        self.send(A_CNXN, VERSION, self.max_payload, self._banner())

    def _handle(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        log.debug("<- %s %#x %#x %r", _NAMES.get(command, hex(command)), arg0, arg1, data[:80])
        if command == A_CNXN:
            self.peer_version = min(arg0, VERSION)
            self.max_payload = min(arg1, MAX_PAYLOAD) or MAX_PAYLOAD_V1
            if self.server.auth_required:
                self._auth_wait = True
                self.online = False
                self.send(A_AUTH, AUTH_TOKEN, 0, secrets.token_bytes(20))
            else:
                self._go_online()
            return
        if command == A_AUTH:
            if not self._auth_wait:
                return
            if not self.server.auth_required:
                self.accept_auth()
            elif arg0 == AUTH_SIGNATURE:
                self.send(A_AUTH, AUTH_TOKEN, 0, secrets.token_bytes(20))
            # AUTH_RSAPUBLICKEY: the "Allow USB debugging?" prompt nobody answers.
            return
        if not self.online:
            return
        if command == A_OPEN:
            if arg0 == 0:
                return  # no stream to answer to (adbd ignores it too)
            if arg1 != 0:
                # A send-buffer size: the peer wants delayed acks, which we do not advertise.
                self.send(A_CLSE, 0, arg0)
                return
            if self.server.offline or self.server.auth_required:
                # A phone that stopped answering, or one whose authorization was just revoked
                # (its transport is about to drop): the OPEN just hangs.
                return
            service = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            with self._streams_lock:
                local_id = self._next_id
                self._next_id += 1
                stream = Stream(self, local_id, arg0)
                self._streams[local_id] = stream
            threading.Thread(target=self._serve_stream, args=(stream, service), daemon=True,
                             name=f"simphone-{service[:24]}").start()
        elif command == A_OKAY:
            if arg0 == 0 or arg1 == 0:
                return
            stream = self._streams.get(arg1)
            if stream:
                stream.on_okay()
            else:  # a stream we already closed: tell the peer again, as adbd does
                self.send(A_CLSE, arg1, arg0)
        elif command == A_WRTE:
            stream = self._streams.get(arg1)
            if stream and arg0 == stream.remote_id:
                stream.on_data(data)  # it sends the OKAY, now or once the backlog drains
        elif command == A_CLSE:
            stream = self._streams.get(arg1)
            if stream and arg0 in (0, stream.remote_id):
                self.forget(stream)
                if stream.on_close():
                    self.send(A_CLSE, stream.local_id, stream.remote_id)

    def _serve_stream(self, stream: Stream, service: str) -> None:
        log.debug("OPEN %r", service)
        self.server.opened.append(service)
        handler = self.server.handler_for(service)
        if handler is None:
            self.forget(stream)
            try:
                self.send(A_CLSE, 0, stream.remote_id)
            except StreamClosed:
                pass
            return
        try:
            self.send(A_OKAY, stream.local_id, stream.remote_id)
            handler(stream)
        except StreamClosed:
            pass
        except Exception:  # a bug in the simulator must not take the connection down
            log.exception("SimPhone service %r failed", service)
        finally:
            try:
                stream.close()
            except StreamClosed:
                pass
            self.server.stream_finished()
