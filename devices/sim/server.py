"""The device side of the ADB transport protocol, on a loopback TCP port, for a SimPhone.

The real adb server connects here exactly as it connects to `adbd` on a phone in TCP mode
(`adb connect 127.0.0.1:PORT`), so the adb binary, adbutils and AdbDevice are exercised end to
end. What is spoken (AOSP `protocol.txt`, `SERVICES.TXT`, `SYNC.TXT`):

- messages: a 24-byte little-endian header (command, arg0, arg1, payload length, payload
  checksum, command ^ 0xffffffff) and the payload. We answer CNXN with protocol version
  0x01000001, which tells the peer checksums are no longer checked; we still fill them in
  for a peer that speaks the older version.
- streams: OPEN(their-id, 0, "service\\0") is answered OKAY(our-id, their-id) or, for a service
  we do not offer, CLSE(0, their-id). Each WRTE must be acknowledged by an OKAY before the next
  WRTE on that stream is sent, in both directions; CLSE ends a stream.
- AUTH, when `auth_required`: we send a TOKEN and never accept a signature, so the adb server
  offers its public key and lists the device as `unauthorized` until the fault is cleared
  (as if someone accepted the prompt), when we send CNXN.
- services: `shell:` (v1: stdout and stderr merged, no exit status), `shell,v2,...:` (the shell
  protocol: packets of id, length, data for stdout 1, stderr 2 and exit status 3), `exec:`
  (raw, no pty, so binary output such as `screencap` passes intact), `sync:` (STAT, LIST, SEND,
  RECV, QUIT) and `reconnect`. Features advertised: shell_v2, cmd, fixed_push_mkdir.

One thread accepts, one reads each connection, one runs each stream's service.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import struct
import threading
from collections import deque
import time
from typing import Any, Callable

from .shell import DeviceState, FakeFS, Shell

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
SYNC_DATA_MAX = 64 * 1024
FEATURES = ("shell_v2", "cmd", "fixed_push_mkdir")

_HEADER = struct.Struct("<6I")
_NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_OPEN: "OPEN", A_OKAY: "OKAY", A_CLSE: "CLSE",
          A_WRTE: "WRTE", A_AUTH: "AUTH", A_STLS: "STLS"}


class _Closed(Exception):
    """The stream or its connection went away."""


class _Stream:
    """One service stream: bytes in from WRTEs, bytes out as WRTEs with OKAY flow control."""

    def __init__(self, conn: "_Connection", local_id: int, remote_id: int):
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self._cond = threading.Condition()
        self._inbox = bytearray()
        self._ready = True  # we may send one WRTE until its OKAY comes back
        self._peer_closed = False
        self._closed = False

    # called by the connection's reader thread
    def on_data(self, data: bytes) -> None:
        with self._cond:
            self._inbox += data
            self._cond.notify_all()

    def on_okay(self) -> None:
        with self._cond:
            self._ready = True
            self._cond.notify_all()

    def on_close(self) -> None:
        with self._cond:
            self._peer_closed = True
            self._cond.notify_all()

    # called by the service thread
    def read_exact(self, n: int) -> bytes:
        with self._cond:
            while len(self._inbox) < n:
                if self._peer_closed or self.conn.dead:
                    raise _Closed()
                self._cond.wait(1.0)
            data = bytes(self._inbox[:n])
            del self._inbox[:n]
            return data

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        step = self.conn.max_payload
        for start in range(0, len(view), step):
            with self._cond:
                while not self._ready:
                    if self._peer_closed or self.conn.dead:
                        raise _Closed()
                    self._cond.wait(1.0)
                if self._peer_closed or self.conn.dead:
                    raise _Closed()
                self._ready = False
            self.conn.send(A_WRTE, self.local_id, self.remote_id, view[start:start + step])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Wait for the last WRTE's OKAY so its data is not overtaken by our CLSE's teardown.
        with self._cond:
            deadline = time.monotonic() + 5
            while not self._ready and not self._peer_closed and not self.conn.dead:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    break
        if not self._peer_closed:
            self.conn.send(A_CLSE, self.local_id, self.remote_id)
        self.conn.forget(self)


class _Connection:
    """One TCP connection from an adb server: the handshake, the packet loop, the streams."""

    def __init__(self, server: "SimPhoneServer", sock: socket.socket):
        self.server = server
        self.sock = sock
        self.dead = False
        self.online = False
        self.max_payload = 4096
        self.peer_version = VERSION_MIN
        self._send_lock = threading.Lock()
        self._streams: dict[int, _Stream] = {}
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
            raise _Closed() from None

    def _recv_exact(self, reader, n: int) -> bytes:
        data = reader.read(n) if n else b""
        if len(data) < n:
            raise _Closed()
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
        self.server._forget(self)

    def forget(self, stream: _Stream) -> None:
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
                data = self._recv_exact(reader, length)
                self._handle(command, arg0, arg1, data)
        except (_Closed, OSError, ValueError):
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
        self.send(A_CNXN, VERSION, MAX_PAYLOAD, self._banner())

    def _handle(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        log.debug("<- %s %#x %#x %r", _NAMES.get(command, hex(command)), arg0, arg1, data[:80])
        if command == A_CNXN:
            self.peer_version = min(arg0, VERSION)
            self.max_payload = max(4096, min(arg1, MAX_PAYLOAD))
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
            if self.server.offline or self.server.auth_required:
                # A phone that stopped answering, or one whose authorization was just revoked
                # (its transport is about to drop): the OPEN just hangs.
                return
            service = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            with self._streams_lock:
                local_id = self._next_id
                self._next_id += 1
                stream = _Stream(self, local_id, arg0)
                self._streams[local_id] = stream
            threading.Thread(target=self._serve_stream, args=(stream, service), daemon=True,
                             name=f"simphone-{service[:24]}").start()
        elif command == A_OKAY:
            stream = self._streams.get(arg1)
            if stream:
                stream.on_okay()
        elif command == A_WRTE:
            stream = self._streams.get(arg1)
            if stream:
                stream.on_data(data)
                self.send(A_OKAY, stream.local_id, stream.remote_id)
        elif command == A_CLSE:
            stream = self._streams.get(arg1)
            if stream:
                stream.on_close()
                self.forget(stream)

    def _serve_stream(self, stream: _Stream, service: str) -> None:
        log.debug("OPEN %r", service)
        self.server.opened.append(service)
        handler = self.server._service(service)
        if handler is None:
            self.forget(stream)
            try:
                self.send(A_CLSE, 0, stream.remote_id)
            except _Closed:
                pass
            return
        try:
            self.send(A_OKAY, stream.local_id, stream.remote_id)
            handler(stream)
        except _Closed:
            pass
        except Exception:  # a bug in the simulator must not take the connection down
            log.exception("SimPhone service %r failed", service)
        finally:
            try:
                stream.close()
            except _Closed:
                pass
            self.server._after_stream()


class SimPhoneServer:
    """A SimPhone listening for adb on 127.0.0.1.

    `phone`: a `Phone` (one is made from `phone_kwargs` when None). `port=0` picks a free port.
    `auth_required`: answer CNXN with AUTH and never accept, so adb lists it `unauthorized`.
    """

    def __init__(self, phone: Any = None, *, host: str = "127.0.0.1", port: int = 0,
                 auth_required: bool = False, **phone_kwargs: Any):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("SimPhoneServer only listens on loopback")
        if phone is None:
            from .phone import Phone

            phone = Phone(**phone_kwargs)
        elif phone_kwargs:
            raise TypeError("give either a phone or the keyword arguments to make one, not both")
        self.phone = phone
        self.host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self.auth_required = auth_required
        self.offline = False
        self.state = DeviceState(phone=phone, fs=FakeFS(), on_transport_fault=self._request_fault,
                                 on_clear=self.clear_faults)
        self.opened: deque[str] = deque(maxlen=1000)  # services opened, newest last (debugging, tests)
        self._listener: socket.socket | None = None
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self._pending: list[tuple[str, list[str]]] = []
        self._offline_timer: threading.Timer | None = None

    # -- public
    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("SimPhoneServer is not started")
        return self._listener.getsockname()[1]

    @property
    def serial(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def fs(self) -> FakeFS:
        return self.state.fs

    def start(self) -> "SimPhoneServer":
        if self._listener is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept_loop, daemon=True, name=f"simphone-accept-{self.port}").start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # close() alone leaves a thread blocked in accept() listening on the port (Linux):
            # shutdown() wakes it up first.
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        if self._offline_timer:
            self._offline_timer.cancel()
        self.drop()

    def __enter__(self) -> "SimPhoneServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def drop(self) -> None:
        """Close every transport now, as a pulled cable or a restarted adbd would."""
        with self._lock:
            conns = list(self._connections)
        for c in conns:
            c.kill()

    def set_offline(self, hang_s: float = 3.0) -> None:
        """Stop answering: new commands hang, then the transport drops after `hang_s` and
        reconnections are refused until `clear_faults()`."""
        self.offline = True
        if self._offline_timer:
            self._offline_timer.cancel()
        self._offline_timer = threading.Timer(hang_s, self.drop)
        self._offline_timer.daemon = True
        self._offline_timer.start()

    def set_unauthorized(self) -> None:
        """Forget the host's key: the transport drops and comes back `unauthorized`."""
        self.auth_required = True
        self.drop()

    def clear_faults(self) -> None:
        """Back to a healthy phone; a pending authorization prompt counts as accepted."""
        self.offline = False
        if self._offline_timer:
            self._offline_timer.cancel()
            self._offline_timer = None
        self.auth_required = False
        self.state.faults.slow_screencap_ms = 0
        self.state.faults.truncate_next_screencap = 0
        self.phone.secure = False
        with self._lock:
            conns = list(self._connections)
        for c in conns:
            try:
                c.accept_auth()
            except _Closed:
                pass

    # -- internals
    def _accept_loop(self) -> None:
        listener = self._listener
        while listener is not None and self._listener is listener:
            try:
                sock, _addr = listener.accept()
            except OSError:
                return
            if self._listener is not listener or self.offline:
                sock.close()  # stopped, or a phone that went away: refuse
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, sock)
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=conn.run, daemon=True, name="simphone-conn").start()

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _request_fault(self, kind: str, args: list[str]) -> None:
        # The flags change now, so no later command slips through; the transport itself goes
        # once this command's own output is out (see _after_stream).
        if kind == "offline":
            self.offline = True
        elif kind == "unauthorized":
            self.auth_required = True
        with self._lock:
            self._pending.append((kind, args))

    def _after_stream(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        time.sleep(0.05)  # let the reply reach the adb server before the transport goes
        for kind, args in pending:
            if kind == "drop":
                self.drop()
            elif kind == "offline":
                try:
                    hang = float(args[0]) if args else 3.0
                except ValueError:
                    hang = 3.0
                self.set_offline(hang)
            elif kind == "unauthorized":
                self.set_unauthorized()

    def _service(self, service: str) -> Callable[[_Stream], None] | None:
        if service.startswith("shell"):
            head, sep, cmd = service.partition(":")
            if not sep:
                return None
            options = head.split(",")[1:]
            v2 = "v2" in options
            return lambda s: self._shell(s, cmd, v2)
        if service.startswith("exec:"):
            return lambda s: self._exec(s, service[5:])
        if service == "sync:":
            return self._sync
        if service.startswith("reconnect"):
            return self._reconnect
        return None

    def _run(self, cmd: str):
        return Shell(self.state).run(cmd)

    def _exec(self, stream: _Stream, cmd: str) -> None:
        for _fd, data in self._run(cmd).chunks:  # chunk by chunk: a frame is not copied again
            stream.write(data)

    def _shell(self, stream: _Stream, cmd: str, v2: bool) -> None:
        if not cmd.strip():
            message = b"SimPhone has no interactive shell; run `adb shell COMMAND`.\n"
            if v2:
                stream.write(_v2(2, message) + _v2(3, b"\x01"))
            else:
                stream.write(message)
            return
        result = self._run(cmd)
        if not v2:
            for _fd, data in result.chunks:
                stream.write(data)
            return
        out = bytearray()
        for fd, data in result.chunks:
            if data:
                out += _v2(fd, data)
        out += _v2(3, bytes([result.status & 0xFF]))
        stream.write(bytes(out))

    def _reconnect(self, stream: _Stream) -> None:
        stream.write(b"done")
        self._request_fault("drop", [])

    # -- sync: file transfer
    def _sync(self, stream: _Stream) -> None:
        fs = self.state.fs
        while True:
            try:
                header = stream.read_exact(8)
            except _Closed:
                return
            cmd, n = header[:4], int.from_bytes(header[4:], "little")
            if cmd == b"QUIT":
                return
            if n > 4096:
                stream.write(_fail("path too long"))
                return
            path = stream.read_exact(n).decode("utf-8", "surrogateescape")
            if cmd == b"STAT":
                mode, size, mtime = fs.stat(path) or (0, 0, 0)
                stream.write(b"STAT" + struct.pack("<3I", mode, size, mtime))
            elif cmd == b"LIST":
                out = bytearray()
                if fs.is_dir(path):
                    for name in [".", ".."] + fs.listdir(path):
                        full = path if name == "." else fs.norm(os.path.join(path, name))
                        mode, size, mtime = fs.stat(full) or (0o040771, 4096, 0)
                        raw = name.encode("utf-8", "surrogateescape")
                        out += b"DENT" + struct.pack("<4I", mode, size, mtime, len(raw)) + raw
                out += b"DONE" + bytes(16)
                stream.write(bytes(out))
            elif cmd == b"SEND":
                self._sync_send(stream, path)
            elif cmd == b"RECV":
                try:
                    data = fs.read(path)
                except (FileNotFoundError, IsADirectoryError):
                    stream.write(_fail(f"remote object '{path}' does not exist"))
                    continue
                out = bytearray()
                for start in range(0, len(data), SYNC_DATA_MAX):
                    chunk = data[start:start + SYNC_DATA_MAX]
                    out += b"DATA" + struct.pack("<I", len(chunk)) + chunk
                out += b"DONE" + bytes(4)
                stream.write(bytes(out))
            else:
                stream.write(_fail(f"unknown sync command {cmd!r}"))
                return

    def _sync_send(self, stream: _Stream, spec: str) -> None:
        path, _, mode_text = spec.rpartition(",")
        if not path:
            path, mode_text = spec, "33188"
        try:
            mode = int(mode_text)
        except ValueError:
            mode = 0o644
        data = bytearray()
        mtime = None
        while True:
            head = stream.read_exact(8)
            kind, n = head[:4], int.from_bytes(head[4:], "little")
            if kind == b"DATA":
                data += stream.read_exact(n)
            elif kind == b"DONE":
                mtime = n
                break
            else:
                stream.write(_fail(f"invalid data message {kind!r}"))
                return
        try:
            self.state.fs.write(path, bytes(data), mode=mode, mtime=mtime, make_parents=True)
        except IsADirectoryError:
            stream.write(_fail(f"couldn't create file: {path}: Is a directory"))
            return
        except (PermissionError, FileNotFoundError):
            stream.write(_fail(f"couldn't create file: {path}: Permission denied"))
            return
        stream.write(b"OKAY" + bytes(4))


def _v2(packet_id: int, data: bytes) -> bytes:
    return bytes([packet_id]) + struct.pack("<I", len(data)) + data


def _fail(message: str) -> bytes:
    raw = message.encode()
    return b"FAIL" + struct.pack("<I", len(raw)) + raw


# --- helpers for tests and the CLI --------------------------------------------------------------


def _client(client: Any = None) -> Any:
    import adbutils

    return client if client is not None else adbutils.AdbClient()


def _state_of(client: Any, serial: str) -> str | None:
    for info in client.list():
        if info.serial == serial:
            return info.state
    return None


def connect_adb(server: SimPhoneServer, client: Any = None, *, timeout: float = 15.0) -> str:
    """`adb connect` the server through the adb server `client` talks to (adbutils'
    default: $ANDROID_ADB_SERVER_PORT or 5037, started if needed), then wait until adb lists
    it as `device` (`unauthorized` when the server demands auth). Returns the serial."""
    client = _client(client)
    want = "unauthorized" if server.auth_required else "device"
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        state = _state_of(client, server.serial)
        if state == want:
            return server.serial
        if state is None or state == "offline" and last == "offline":
            client.connect(server.serial, timeout=max(1.0, deadline - time.monotonic()))
        last = state
        time.sleep(0.05)
    raise TimeoutError(f"adb did not list {server.serial} as {want} within {timeout:.0f} s "
                       f"(last state: {_state_of(client, server.serial)})")


def disconnect_adb(server: SimPhoneServer, client: Any = None) -> None:
    """`adb disconnect` the server (no error when adb does not know it)."""
    _client(client).disconnect(server.serial)


def serve(port: int = 5555, size: tuple[int, int] = (1080, 2400), **phone_kwargs: Any) -> None:
    """Run a SimPhone on 127.0.0.1:`port` until Ctrl-C (the `vlagent sim` command)."""
    width, height = size
    with SimPhoneServer(port=port, width=width, height=height, **phone_kwargs) as server:
        print(f"SimPhone {width}x{height} listening on {server.serial}", flush=True)
        print(f"connect with:  adb connect {server.serial}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("SimPhone stopped")
