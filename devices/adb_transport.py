"""One phone reached through the adb server's smart sockets, and the adb server itself.

Every service goes through one small path: a fresh socket to the adb server, select the
transport (`host:transport:SERIAL`), open the service (`exec:`, `shell,v2,raw:`, `shell:`), read
to the end. Our own sockets rather than adbutils' AdbConnection, whose close() sleeps 10 ms;
adbutils' client is used for the device list and for `adb connect` / `adb disconnect`.

A dropped transport is reconnected (`adb connect` for host:port serials) and the command
retried, within the reconnect window; commands that may already have run are not re-run.
Then `DeviceOffline` says what to check.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from typing import Any, Iterator

from ..errors import DeviceCommandError, DeviceOffline, UserError
from ..retry import retrying

# Seconds an adb server may take to answer one request (list devices, connect): one that
# accepts connections but has hung otherwise blocks forever.
ADB_SERVER_TIMEOUT = 10.0
OFFLINE_HELP = (
    "check the USB cable or the network, run `adb devices` to see its state, and accept the "
    "\"Allow USB debugging?\" prompt on the phone if one is showing"
)
UNAUTHORIZED_HELP = (
    "the phone has not authorized this computer: unlock it and accept the \"Allow USB debugging?\" "
    "prompt (tick \"Always allow\"); if no prompt shows, revoke USB debugging authorizations in "
    "Developer options and reconnect"
)


class _Lost(Exception):
    """The transport failed. `started`: whether the service was already accepted (a command
    that may have run); `hung`: a timeout rather than an error."""

    def __init__(self, message: str, *, started: bool, hung: bool = False):
        super().__init__(message)
        self.started = started
        self.hung = hung


class _Refused(Exception):
    """The adb server answered FAIL, with its message."""


class AdbTransport:
    """The phone `serial` through the adb server at host:port; `client` is an adbutils.AdbClient
    for the same server."""

    def __init__(self, client: Any, host: str, port: int, serial: str | None):
        self.client = client
        self.host = host
        self.port = port
        self.serial = serial

    def run(self, service: bytes, *, timeout: float, idempotent: bool, what: str, v2: bool,
            reconnect_window: float) -> bytes:
        """Open `service` on the device and read it to the end. A failed transport is
        reconnected and the command retried (vlagent.retry's policy: no backoff, as reconnecting
        waits for the phone itself), a few times within `reconnect_window`; never retried: a command that may have run (unless `idempotent`), a
        command that is merely slow, an unauthorized phone."""
        first_failure: list[float] = []

        def attempt() -> bytes:
            try:
                data = self._once(service, timeout)
                if v2 and not v2_complete(data):
                    raise _Lost("the connection closed before the command finished", started=True)
                return data
            except _Lost as e:
                first_failure[:] = first_failure or [time.monotonic()]
                if e.hung and e.started and self._alive():
                    raise DeviceCommandError(f"`{what[:200]}` did not finish within {timeout:.0f} s") from None
                if e.started and not idempotent:
                    self.recover(time.monotonic() + reconnect_window)
                    raise DeviceOffline(
                        f"the connection to {self.serial} dropped while running `{what[:100]}` (it may or "
                        f"may not have happened); it is reconnected for the next command"
                    ) from None
                raise

        try:
            return retrying(attempts=4, max_seconds=reconnect_window, initial=0.0,
                            retry_if=lambda e: isinstance(e, _Lost),
                            before_sleep=lambda: self.recover(first_failure[0] + reconnect_window))(attempt)
        except _Lost as e:
            raise DeviceOffline(f"{self.serial} is not reachable ({e}): {OFFLINE_HELP}") from None

    def _once(self, service: bytes, timeout: float) -> bytes:
        sock = self._server_socket(min(timeout, 5.0))
        try:
            try:
                _request(sock, b"host:transport:" + self.serial.encode())
                _request(sock, service)
            except socket.timeout:
                raise _Lost("the device did not answer", started=False, hung=True) from None
            except _Refused as e:
                message = str(e)
                if "unauthorized" in message:
                    raise self._unauthorized() from None
                if any(w in message for w in ("not found", "offline", "no devices", "authorizing", "closed")):
                    raise _Lost(message, started=False) from None
                raise DeviceCommandError(f"the phone refused {service[:60].decode(errors='replace')!r}: {message}") from None
            except (OSError, EOFError) as e:
                raise _Lost(f"adb server connection failed: {e}", started=False) from None
            sock.settimeout(timeout)
            try:
                return _read_to_end(sock)
            except socket.timeout:
                raise _Lost("timed out", started=True, hung=True) from None
            except OSError as e:
                raise _Lost(f"connection broke: {e}", started=True) from None
        finally:
            sock.close()

    def _server_socket(self, timeout: float) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as e:
            try:  # the adb server died: start it again once
                ensure_adb_server(adb_binary(), self.host, self.port)
                sock = socket.create_connection((self.host, self.port), timeout=timeout)
            except (OSError, UserError, DeviceOffline):
                raise _Lost(f"no adb server at {self.host}:{self.port} ({e})", started=False) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _alive(self) -> bool:
        """Whether the phone answers a trivial command quickly (a slow command, not a dead phone)."""
        try:
            return b"ok" in self._once(b"shell:echo ok", 3.0)
        except (_Lost, DeviceOffline, DeviceCommandError):
            return False

    def recover(self, deadline: float) -> None:
        """Get the transport back: `adb connect` again for host:port serials, else wait."""
        import adbutils  # already loaded: self.client is one of its clients

        state = self.state()
        if state == "device":
            return
        if state == "unauthorized":
            raise self._unauthorized()
        if is_tcp(self.serial):
            try:
                if state == "offline":
                    self.client.disconnect(self.serial)
                self.client.connect(self.serial, timeout=max(0.5, min(2.0, deadline - time.monotonic())))
            except (adbutils.AdbError, OSError):  # the state check below decides
                pass
        end = min(deadline, time.monotonic() + 1.5)
        while time.monotonic() < end:
            if self.state() == "device":
                return
            time.sleep(0.1)

    def pull(self, remote: str, local: str) -> None:
        """Copy the phone's file `remote` to `local` over the sync service (adbutils')."""
        from ..errors import DeviceCommandError

        try:
            self.client.device(self.serial).sync.pull(remote, local)
        except Exception as e:  # noqa: BLE001 - adbutils raises its own errors for a failed sync
            raise DeviceCommandError(f"pulling {remote} failed: {e}") from None

    # -- the device list
    def host_query(self, request: str) -> str:
        """The adb server's answer to a host request (`host-serial:SERIAL:features`)."""
        sock = self._server_socket(5.0)
        try:
            _request(sock, request.encode())
            n = int(_recv_exact(sock, 4), 16)
            return _recv_exact(sock, n).decode("utf-8", "replace")
        except _Refused as e:
            raise DeviceOffline(f"{self.serial}: {e}: {OFFLINE_HELP}") from None
        finally:
            sock.close()

    def state(self) -> str | None:
        """The phone's state in `adb devices` (device, offline, unauthorized, ...), None when absent."""
        import adbutils  # already loaded: self.client is one of its clients

        try:
            for info in self.client.list():
                if info.serial == self.serial:
                    return info.state
        except (adbutils.AdbError, OSError):  # the server is down or hung: the state is not known
            return None
        return None

    def only_device(self) -> str:
        """The serial of the one usable phone, or why there is none to pick."""
        infos = self.client.list()
        ready = [i.serial for i in infos if i.state == "device"]
        if len(ready) == 1:
            return ready[0]
        if len(ready) > 1:
            raise UserError(f"several phones are connected ({', '.join(ready)}); choose one with its serial, e.g. adb:{ready[0]}")
        if any(i.state == "unauthorized" for i in infos):
            raise DeviceOffline(f"the only phone is unauthorized: {UNAUTHORIZED_HELP}")
        raise DeviceOffline(f"no phone is connected to adb: {OFFLINE_HELP}")

    def wait_until_usable(self, timeout: float) -> None:
        """Wait until the phone is listed as `device` (`adb connect` first for an unknown host:port)."""
        import adbutils  # already loaded: self.client is one of its clients

        deadline = time.monotonic() + timeout
        state = self.state()
        if state is None and is_tcp(self.serial):
            try:
                self.client.connect(self.serial, timeout=max(1.0, timeout))
            except (adbutils.AdbError, OSError):  # the loop below waits and says why it gave up
                pass
        while True:
            state = self.state()
            if state == "device":
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if state == "unauthorized":
            raise self._unauthorized()
        raise DeviceOffline(f"{self.serial} is {state or 'not connected'}: {OFFLINE_HELP}")

    def _unauthorized(self) -> DeviceOffline:
        return DeviceOffline(f"{self.serial} is unauthorized: {UNAUTHORIZED_HELP}")



def _request(sock: socket.socket, payload: bytes) -> None:
    """One smart-socket request to the adb server: 4 hex digits of length, the payload, then
    OKAY or FAIL with a message."""
    sock.sendall(b"%04x" % len(payload) + payload)
    status = _recv_exact(sock, 4)
    if status == b"OKAY":
        return
    if status == b"FAIL":
        n = int(_recv_exact(sock, 4), 16)
        raise _Refused(_recv_exact(sock, n).decode("utf-8", "replace"))
    raise _Refused(f"unexpected reply {status!r}")


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise EOFError("the adb server closed the connection")
        got += k
    return bytes(buf)


def _read_to_end(sock: socket.socket) -> bytearray:
    out = bytearray()
    chunk = bytearray(1 << 20)
    view = memoryview(chunk)
    while True:
        k = sock.recv_into(view)
        if not k:
            return out
        out += view[:k]


def parse_v2(data: bytes | bytearray) -> tuple[bytes, int | None]:
    """A shell-protocol reply as (stdout and stderr in order, exit status or None)."""
    out = bytearray()
    status = None
    for kind, body in _v2_packets(data):
        if kind in (1, 2):
            out += body
        elif kind == 3 and body:
            status = body[0]
    return bytes(out), status


def v2_complete(data: bytes | bytearray) -> bool:
    """Whether a shell-protocol reply holds the exit status (else the stream was cut short)."""
    return any(kind == 3 for kind, _body in _v2_packets(data))


def _v2_packets(data: bytes | bytearray) -> Iterator[tuple[int, memoryview]]:
    """Shell protocol packets: id (1 stdout, 2 stderr, 3 exit), length, data."""
    view = memoryview(data)
    i = 0
    while i + 5 <= len(data):
        kind, n = data[i], int.from_bytes(data[i + 1:i + 5], "little")
        yield kind, view[i + 5:i + 5 + n]
        i += 5 + n


def is_tcp(serial: str | None) -> bool:
    return bool(serial) and re.fullmatch(r"[\w.\-\[\]:]+:\d+", serial or "") is not None


def env_or(name: str, default: str) -> str:
    return os.environ.get(name) or default


def adb_binary() -> str:
    try:
        import adbutils
    except ImportError:
        raise UserError("phones need adbutils: pip install adbutils") from None
    try:
        return adbutils.adb_path()
    except adbutils.AdbError:
        found = shutil.which("adb")
        if found:
            return found
        raise UserError(
            "no adb binary found: install Android platform-tools (https://developer.android.com/tools/releases/platform-tools) "
            "and put adb on PATH, or set ADBUTILS_ADB_PATH to it"
        ) from None


def adb_client(host: str | None = None, port: int | str | None = None, *, timeout: float = ADB_SERVER_TIMEOUT) -> Any:
    """An adbutils client of the adb server at host:port (default $ANDROID_ADB_SERVER_HOST/PORT,
    else 127.0.0.1:5037), the server started first, quietly, where a local one does not answer.
    timeout: how long a call waits for the server's answer."""
    import adbutils

    host = host or env_or("ANDROID_ADB_SERVER_HOST", "127.0.0.1")
    port = int(port or env_or("ANDROID_ADB_SERVER_PORT", "5037"))
    ensure_adb_server(adb_binary(), host, port)
    # socket_timeout: a hung adb server must not block list() and friends forever
    return adbutils.AdbClient(host=host, port=port, socket_timeout=timeout)


def ensure_adb_server(adb: str, host: str, port: int) -> None:
    """Start a local adb server on `port` when none answers (adbutils would start one on the
    default port, not necessarily ours)."""
    try:
        socket.create_connection((host, port), timeout=1.0).close()
        return
    except OSError:
        pass
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise DeviceOffline(f"no adb server answers at {host}:{port}: start it there with `adb -a -P {port} server`")
    try:
        subprocess.run([adb, "-P", str(port), "start-server"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(f"cannot start the adb server ({adb} -P {port} start-server): {e}") from None
