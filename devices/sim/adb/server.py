"""SimPhoneServer: a SimPhone on a loopback TCP port, reached by the real adb server.

The adb server connects here exactly as it connects to `adbd` on a phone in TCP mode
(`adb connect 127.0.0.1:PORT`), so the adb binary, adbutils and AdbDevice are exercised end to
end, and so do clients that speak to adbd directly (adb-shell). The wire protocol is in
protocol.py, the services (shell, exec, sync, framebuffer, reverse, root/unroot, reconnect) in
services.py and the modules beside it; this module owns the listening socket, the
connections, the phone's reverse listeners and the faults a test injects (a pulled cable, a
phone that stops answering, a revoked authorization, a cable pulled right after an input ran
and before its reply went out). Features advertised: shell_v2, cmd, fixed_push_mkdir.
docs/simphone.md lists every service and what a real phone answers.

One thread accepts, one reads each connection, one runs each stream's service.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from typing import Any, Callable

from ...adb_transport import adb_client
from ..shell.device_state import DeviceState
from ..shell.fs import FakeFS
from . import services
from .protocol import Connection, Stream, StreamClosed
from .reverse import ReverseListeners


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
            from ..phone.phone import Phone

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
        self.reverse = ReverseListeners()  # `adb reverse` entries, each tied to its connection
        self._listener: socket.socket | None = None
        self._connections: set[Connection] = set()
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
        self.state.reset_faults()
        with self._lock:
            conns = list(self._connections)
        for c in conns:
            try:
                c.accept_auth()
            except StreamClosed:
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
            conn = Connection(self, sock)
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=conn.run, daemon=True, name="simphone-conn").start()

    def _request_fault(self, kind: str, args: list[str]) -> None:
        # The flags change now, so no later command slips through; the transport itself goes
        # once this command's own output is out (see stream_finished). Except drop-now (an
        # armed drop-after-input): the command has run and its reply must never arrive.
        if kind == "drop-now":
            self.drop()
            return
        if kind == "offline":
            self.offline = True
        elif kind == "unauthorized":
            self.auth_required = True
        with self._lock:
            self._pending.append((kind, args))

    # -- what the transport calls (protocol.TransportHost)
    def handler_for(self, service: str) -> Callable[[Stream], None] | None:
        return services.handler_for(service, self.state, self.reverse)

    def connection_closed(self, conn: Connection) -> None:
        with self._lock:
            self._connections.discard(conn)
        self.reverse.drop_transport(conn)

    def stream_finished(self) -> None:
        # Transport faults requested meanwhile take effect now that a reply is out.
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


# --- helpers for tests and the CLI --------------------------------------------------------------


def _client(client: Any = None) -> Any:
    """`client`, else one of the default adb server, started quietly where it is missing: adbutils
    would start it with adb's output on the terminal, and the workers of `bench sim -j N` race to."""
    return client if client is not None else adb_client()


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
